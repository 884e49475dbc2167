"""`shout`: answers with the prompt, in capitals when the model id is `loud`. Implements `generate` only."""

from __future__ import annotations

from evalkit import Provider, ProviderResponse, Request, Usage


class ShoutProvider(Provider):
    """Echoes the prompt; every other ability keeps evalkit's documented default."""

    async def generate(self, request: Request) -> ProviderResponse:
        """The prompt text (upper-cased for the model id `loud`), with a word count as token usage."""
        text = request.prompt.render()
        out = text.upper() if self.spec.model == "loud" else text
        return ProviderResponse(text=out, usage=Usage(prompt_tokens=len(text.split()),
                                                      completion_tokens=len(out.split())))
