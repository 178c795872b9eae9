// The ESM entry point. The code is in index.cjs so that Jest, which loads CommonJS unless told
// otherwise, can require the same implementation.
export { FakeLLMError, startFakeLLM } from "./index.cjs";
