"""The model card (``README.md`` of a released model): metadata a hub indexes, text a user reads first.

The YAML front matter follows the Hugging Face model card conventions (``library_name``, ``pipeline_tag``,
``tags``, ``model-index`` with one result per task and dataset) and adds a ``momentor`` block: the preset,
the data version the model was trained on, the base models it needs, its trainable parameter count, and the
baselines' scores on the same split. The text (``templates/model_card.md.j2``) says what the model is for,
what it cannot do, how to load and serve it, and its evaluation next to the baselines.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from momentor import config as config_lib

TEMPLATE = Path(__file__).with_name("templates") / "model_card.md.j2"

#: task -> (model-index task type, task name)
TASKS = {
    "grounding": ("temporal-grounding", "Temporal grounding"),
    "dense_captioning": ("dense-video-captioning", "Dense video captioning"),
    "qvhighlights": ("highlight-detection", "Highlight detection"),
    "action_segmentation": ("action-segmentation", "Action segmentation"),
}


def headline_values(result: dict) -> dict[str, float]:
    """The scalar scores of one task's result (counts and nested breakdowns left out)."""
    return {k: float(v) for k, v in result.items()
            if isinstance(v, int | float) and not isinstance(v, bool) and not k.startswith(("num_", "videos_"))
            and k not in {"gt_windows_past_end", "reference_files"}}


def card_metadata(cfg: config_lib.Config, base_models: dict, metrics: dict, baselines: dict,
                  data_version: str | None, trainable: int, split: str = "test", base_model: str | None = None) -> dict:
    results = []
    for task, result in metrics.items():
        kind, name = TASKS.get(task, (task, task))
        values = headline_values(result) if isinstance(result, dict) else {}
        if values:
            results.append({
                "task": {"type": kind, "name": name},
                "dataset": {"type": "momentor-corpus", "name": f"momentor corpus ({data_version or 'unversioned'})",
                            "split": split},
                "metrics": [{"type": key, "name": key, "value": round(value, 4)} for key, value in values.items()],
            })
    meta = {
        "library_name": "momentor",
        "license": "apache-2.0",
        "pipeline_tag": "video-text-to-text",
        "tags": ["video-llm", "temporal-grounding", "dense-video-captioning", "momentor", cfg.model.preset],
        **({"base_model": base_model} if base_model else {}),  # the hub links the model to its LLM
        "model-index": [{"name": f"momentor-{cfg.model.preset}", "results": results}],
        "momentor": {
            "preset": cfg.model.preset,
            "data_version": data_version,
            "base_models": base_models,
            "trainable_parameters": trainable,
            "baselines": {name: {task: headline_values(r) for task, r in by_task.items() if isinstance(r, dict)}
                          for name, by_task in baselines.items()},
        },
    }
    return meta


def render_card(cfg: config_lib.Config, base_models: dict, metrics: dict, baselines: dict,
                data_version: str | None, trainable: int, base_model: str | None = None) -> str:
    import jinja2

    meta = card_metadata(cfg, base_models, metrics, baselines, data_version, trainable, base_model=base_model)
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATE.parent), autoescape=False,
                             keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
    rows = []
    for task, result in metrics.items():
        for key, value in (headline_values(result) if isinstance(result, dict) else {}).items():
            rows.append({"task": TASKS.get(task, (task, task))[1], "metric": key, "value": value,
                         "baselines": {name: headline_values(by_task.get(task, {})).get(key)
                                       for name, by_task in baselines.items()}})
    body = env.get_template(TEMPLATE.name).render(
        preset=cfg.model.preset, base_models=base_models, data_version=data_version, rows=rows,
        baseline_names=sorted(baselines), trainable=trainable,
    )
    return "---\n" + yaml.safe_dump(meta, sort_keys=False, allow_unicode=True) + "---\n\n" + body


def read_card_metadata(path: str | Path) -> dict:
    """The YAML front matter of a model card."""
    text = Path(path).read_text()
    if not text.startswith("---\n"):
        raise ValueError(f"{path} has no YAML front matter (a model card starts with ---)")
    front, _, _ = text[4:].partition("\n---\n")
    return yaml.safe_load(front)
