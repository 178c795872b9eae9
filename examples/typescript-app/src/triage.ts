// Triage a support ticket: a category and a priority, as JSON the schema describes.
import OpenAI from "openai";

export interface Triage {
  category: "billing" | "bug" | "other";
  priority: "low" | "high";
  summary: string;
}

export const TRIAGE_SCHEMA = {
  type: "object",
  properties: {
    category: { type: "string", enum: ["billing", "bug", "other"] },
    priority: { type: "string", enum: ["low", "high"] },
    summary: { type: "string" },
  },
  required: ["category", "priority", "summary"],
  additionalProperties: false,
} as const;

export class TriageError extends Error {}

export async function triage(client: OpenAI, ticket: string): Promise<Triage> {
  const completion = await client.chat.completions.create({
    model: "gpt-4o-mini",
    messages: [
      { role: "system", content: "Triage the support ticket." },
      { role: "user", content: ticket },
    ],
    response_format: { type: "json_schema", json_schema: { name: "triage", schema: TRIAGE_SCHEMA, strict: true } },
  });
  const choice = completion.choices[0];
  if (choice.finish_reason !== "stop" || !choice.message.content) {
    throw new TriageError(`no triage: the model stopped with ${choice.finish_reason}`);
  }
  return JSON.parse(choice.message.content) as Triage;
}
