"""Kubeflow Pipelines components of momentor: one folder per step, each a thin typed shell over a verb.

Every component runs in the one momentor image (the repository's Dockerfile) and calls the ``momentor``
verb of its step through :func:`momentor.artifact_workspace.run_verb`, which lays the step's input and
output artifacts out as the project folders the verb reads and writes. No step logic lives here.
"""

#: the image every component runs in; the pipeline's ``image`` parameter overrides it per run
IMAGE = "momentor:0.1.0"
