"""Google Vertex AI: Gemini and Claude under /{version}/projects/{project}/locations/{location}/publishers/..."""
