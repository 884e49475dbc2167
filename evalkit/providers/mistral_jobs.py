"""Mistral's fine-tuning jobs API as the `mistral` provider's `fine_tuning_job` ability.

mistralai 3.x (the version evalkit requires) no longer ships the jobs API that 1.x/2.x had. The same
documented endpoint (GET /v1/fine_tuning/jobs/{job_id}) is then called through
the SDK's own request pipeline (`BaseSDK`: its auth, server URL, timeout, hooks and error types).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from evalkit.errors import ConfigError, EvalkitError

if TYPE_CHECKING:
    from evalkit.providers.mistral import MistralProvider

__all__ = ["get_job"]

_JOB_PATH = "/v1/fine_tuning/jobs/{job_id}"


async def get_job(provider: MistralProvider, job_id: str) -> dict[str, Any]:
    """The job as a dict; ConfigError for an unknown job or a refused key, EvalkitError for other failures."""
    from mistralai.client import errors

    if not job_id.strip():
        raise ConfigError("JOB_ID must be a fine-tuning job id, got an empty string")
    client = provider.client
    try:
        return await _jobs_endpoint(client).get(job_id)
    except errors.MistralError as exc:
        error = provider.classify(exc)
        if exc.status_code == 404:
            raise ConfigError(f"no fine-tuning job '{job_id}' (HTTP 404): check the id with your Mistral console "
                              f"or API ({error})") from None
        if exc.status_code in (401, 403):
            raise ConfigError(f"the Mistral API refused the key (HTTP {exc.status_code}): {error}") from None
        raise EvalkitError(f"fetching fine-tuning job '{job_id}' failed: {error}") from None
    except Exception as exc:  # noqa: BLE001 - transport failures become one classified line
        raise EvalkitError(f"fetching fine-tuning job '{job_id}': {provider.classify(exc)}") from None


def _jobs_endpoint(client: Any) -> Any:
    """A BaseSDK sub-SDK for GET /v1/fine_tuning/jobs/{job_id}, sharing `client`'s configuration."""
    from mistralai.client import errors, models, utils
    from mistralai.client._hooks import HookContext
    from mistralai.client.basesdk import BaseSDK
    from mistralai.client.types import BaseModel as SDKModel
    from mistralai.client.utils import FieldMetadata, PathParamMetadata, get_security_from_env
    from typing_extensions import Annotated

    # Built with real annotation objects: this module's `from __future__ import annotations` would leave a
    # string the SDK's get_type_hints() cannot resolve outside this function.
    GetJobRequest = type("GetJobRequest", (SDKModel,), {"__module__": __name__, "__annotations__": {
        "job_id": Annotated[str, FieldMetadata(path=PathParamMetadata(style="simple", explode=False))]}})

    class FineTuningJobs(BaseSDK):
        async def get(self, job_id: str) -> dict[str, Any]:
            config = self.sdk_configuration
            base_url = self._get_url(None, None)
            timeout_ms = config.timeout_ms or 300000
            req = self._build_request_async(
                method="GET", path=_JOB_PATH, base_url=base_url, url_variables=None,
                request=GetJobRequest(job_id=job_id), request_body_required=False, request_has_path_params=True,
                request_has_query_params=True, user_agent_header="user-agent", accept_header_value="application/json",
                security=config.security, timeout_ms=timeout_ms)
            retries = config.retry_config
            res = await self.do_request_async(
                hook_ctx=HookContext(config=config, base_url=base_url or "",
                                     operation_id="jobs_api_routes_fine_tuning_get_fine_tuning_job",
                                     oauth2_scopes=None,
                                     security_source=get_security_from_env(config.security, models.Security),
                                     tags=["fine-tuning"], extensions=None),
                request=req, is_error_status_code=lambda c: utils.match_status_codes(["4XX", "5XX"], c),
                retry_config=(retries, ["429", "500", "502", "503", "504"])
                if isinstance(retries, utils.RetryConfig) else None)
            text = await utils.stream_to_text_async(res)
            if not utils.match_response(res, "200", "application/json"):
                raise errors.SDKError("API error occurred", res, text)
            try:
                return json.loads(text)
            except json.JSONDecodeError as exc:
                raise errors.SDKError(f"invalid JSON body ({exc.msg})", res, text) from None

    return FineTuningJobs(client.sdk_configuration, parent_ref=client)
