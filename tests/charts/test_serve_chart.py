"""The chart's server: the champion from the workspace claim, read-only, probed, locked like every other pod."""

from __future__ import annotations

from .chart_rendering import CHART, override_args, pod_specs

SERVE = CHART / "ci" / "serve.yaml"


def _deployment(objects) -> dict:
    return next(o for o in objects if o["kind"] == "Deployment")


def test_serves_the_champion_read_only_from_the_workspace_claim(render):
    objects = render(SERVE)
    deployment = _deployment(objects)
    spec = deployment["spec"]["template"]["spec"]
    claim = next(o for o in objects if o["kind"] == "PersistentVolumeClaim")["metadata"]["name"]
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes["workspace"]["persistentVolumeClaim"] == {"claimName": claim, "readOnly": True}
    (container,) = spec["containers"]
    assert {"mountPath": "/workspace", "name": "workspace", "readOnly": True} in container["volumeMounts"]
    args = container["args"]
    assert args[:2] == ["serve", "--params"] and args[args.index("--model") + 1] == "/workspace/champion"
    assert sorted(override_args(args)) == ["serve.concurrency=1", "serve.max_upload_mb=50", "serve.queue=8",
                                           "serve.reload_seconds=30"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert deployment["spec"]["replicas"] == 2 and spec["automountServiceAccountToken"] is False


def test_same_security_context_as_the_other_pods_and_a_service_to_reach_it(render):
    objects = render(SERVE)
    specs = dict(spec for obj in objects for spec in pod_specs(obj))
    assert specs["Deployment"]["securityContext"] == specs["CronJob"]["securityContext"]
    ours, theirs = specs["Deployment"]["containers"][0], specs["CronJob"]["containers"][0]
    assert ours["securityContext"] == theirs["securityContext"]
    service = next(o for o in objects if o["kind"] == "Service")
    selector = _deployment(objects)["spec"]["selector"]["matchLabels"]
    assert service["spec"]["selector"] == selector and service["spec"]["ports"][0]["targetPort"] == "http"


def test_off_by_default(render):
    assert not [o for o in render(None) if o["kind"] in ("Deployment", "Service")]
