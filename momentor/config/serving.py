"""The ``serve`` section: how ``momentor serve`` answers over HTTP (the chart's serve Deployment sets it too)."""

from __future__ import annotations

from pydantic import Field

from momentor.config.base import Float, Section


class ServeConfig(Section):
    """The long-lived server: which model, how much it takes in, how many answers at once."""

    model: str | None = Field(
        None, description="released model, checkpoint or training run folder to serve (null: the champion, "
        "<paths.work>/champion)")
    host: str = Field("127.0.0.1", description="address to listen on (0.0.0.0 in a container)")
    port: int = Field(8080, ge=1, le=65535, description="TCP port")
    max_upload_mb: Float = Field(200.0, gt=0, description="largest video upload in MB (larger: 413)")
    concurrency: int = Field(
        1, ge=1, description="answers generated at once (each holds the model; more needs more memory)")
    queue: int = Field(8, ge=0, description="requests that may wait for a free slot; more get 503 at once")
    reload_seconds: Float = Field(
        30.0, ge=0, description="how often to check whether the champion link moved (then load the new release "
        "beside the old one and swap); 0 = load once")
    max_query_chars: int = Field(1000, ge=1, description="longest query or question (longer: 422)")
