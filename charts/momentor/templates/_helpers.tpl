{{/* Names, labels and the pieces every momentor pod shares. */}}

{{- define "momentor.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "momentor.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "momentor.selectorLabels" -}}
app.kubernetes.io/name: {{ include "momentor.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "momentor.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "momentor.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: momentor
{{- end }}

{{- define "momentor.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "momentor.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "momentor.paramsConfigMap" -}}
{{- printf "%s-params" (include "momentor.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The workspace claim every pipeline pod mounts: an existing one, or the chart's own. */}}
{{- define "momentor.workspaceClaim" -}}
{{- default (printf "%s-workspace" (include "momentor.fullname" .) | trunc 63 | trimSuffix "-") .Values.workspace.existingClaim }}
{{- end }}

{{/* The one place an image reference is written, from (dict "repository" "tag" "digest" "appVersion"):
     `repository@sha256:…` when a digest is given (`digest`, or one already ending `repository` or `tag`):
     a digest pins the content, so the tag is dropped rather than appended into an invalid reference;
     else `repository:tag`, the tag defaulting to appVersion. Two different digests are refused. */}}
{{- define "momentor.imageRef" -}}
{{- $suffix := "@sha256:[a-f0-9]{64}$" }}
{{- $repository := .repository }}
{{- $tag := toString (default "" .tag) }}
{{- $digests := list }}
{{- with .digest }}{{ $digests = append $digests . }}{{ end }}
{{- with regexFind $suffix $repository }}
{{- $repository = trimSuffix . $repository }}
{{- $digests = append $digests (trimPrefix "@" .) }}
{{- end }}
{{- with regexFind $suffix $tag }}
{{- $tag = trimSuffix . $tag }}
{{- $digests = append $digests (trimPrefix "@" .) }}
{{- end }}
{{- if gt (len (uniq $digests)) 1 }}
{{- fail (printf "image %s is pinned to two digests (%s): give it once: in image.digest, or as @sha256:… after the repository or the tag" $repository (join ", " (uniq $digests))) }}
{{- end }}
{{- if $digests }}
{{- printf "%s@%s" $repository (first $digests) }}
{{- else }}
{{- printf "%s:%s" $repository (default .appVersion $tag) }}
{{- end }}
{{- end }}

{{/* The momentor image of the submit pods and of the pipeline tasks they start. */}}
{{- define "momentor.image" -}}
{{- include "momentor.imageRef" (dict "repository" .Values.image.repository "tag" .Values.image.tag "digest" .Values.image.digest "appVersion" .Chart.AppVersion) }}
{{- end }}

{{/* The TrainJob's image: training.image.* fall back to image.*. A digest names one image of one repository,
     so image's digest carries over only when training sets neither its own repository nor its own tag. */}}
{{- define "momentor.trainerImage" -}}
{{- $own := .Values.training.image }}
{{- if or $own.repository $own.tag }}
{{- $digestSuffix := "@sha256:[a-f0-9]{64}$" }}
{{- $repository := default (regexReplaceAll $digestSuffix .Values.image.repository "") $own.repository }}
{{- $tag := default (regexReplaceAll $digestSuffix (toString (default "" .Values.image.tag)) "") $own.tag }}
{{- include "momentor.imageRef" (dict "repository" $repository "tag" $tag "digest" $own.digest "appVersion" .Chart.AppVersion) }}
{{- else }}
{{- include "momentor.imageRef" (dict "repository" .Values.image.repository "tag" .Values.image.tag "digest" (default .Values.image.digest $own.digest) "appVersion" .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/* The KFP endpoint every submit uses: params.pipeline.kfp_endpoint, the project's own key. */}}
{{- define "momentor.kfpEndpoint" -}}
{{- $pipeline := default dict .Values.params.pipeline }}
{{- required "params.pipeline.kfp_endpoint is empty: set it to the KFP API URL (e.g. http://ml-pipeline.kubeflow.svc.cluster.local:8888) or disable schedule and submitJob" $pipeline.kfp_endpoint }}
{{- end }}

{{/* `-S key=value` arguments, one list item per token. */}}
{{- define "momentor.overrideArgs" -}}
{{- range . }}
- -S
- {{ . | quote }}
{{- end }}
{{- end }}

{{/* Env of every momentor container: secrets by reference only (secretKeyRef), never by value. */}}
{{- define "momentor.env" -}}
- name: PYTHONUNBUFFERED
  value: "1"
- name: TMPDIR
  value: /tmp
{{- if .Values.kfp.existingSecret }}
- name: KFP_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ .Values.kfp.existingSecret }}
      key: {{ .Values.kfp.tokenKey }}
{{- end }}
{{- if .Values.kfp.serviceAccountToken }}
- name: KF_PIPELINES_SA_TOKEN_PATH
  value: /var/run/secrets/kubeflow/pipelines/token
{{- end }}
{{- with .Values.s3 }}
{{- if .existingSecret }}
- name: AWS_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef:
      name: {{ .existingSecret }}
      key: {{ .accessKeyIdKey }}
- name: AWS_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ .existingSecret }}
      key: {{ .secretAccessKeyKey }}
{{- end }}
{{- if .endpointUrl }}
- name: AWS_ENDPOINT_URL
  value: {{ .endpointUrl | quote }}
{{- end }}
{{- if .region }}
- name: AWS_DEFAULT_REGION
  value: {{ .region | quote }}
{{- end }}
{{- end }}
{{- end }}

{{/* Writable scratch under a read-only root filesystem: /tmp and the home cache (~/.cache/momentor,
     Hugging Face), plus the params file. */}}
{{- define "momentor.volumeMounts" -}}
- name: params
  mountPath: /etc/momentor
  readOnly: true
- name: tmp
  mountPath: /tmp
- name: cache
  mountPath: /home/mpiuser/.cache
{{- if .Values.kfp.serviceAccountToken }}
- name: kfp-token
  mountPath: /var/run/secrets/kubeflow/pipelines
  readOnly: true
{{- end }}
{{- end }}

{{- define "momentor.volumes" -}}
- name: params
  configMap:
    name: {{ include "momentor.paramsConfigMap" . }}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.scratch.tmpSizeLimit }}
- name: cache
  emptyDir:
    sizeLimit: {{ .Values.scratch.cacheSizeLimit }}
{{- if .Values.kfp.serviceAccountToken }}
- name: kfp-token
  projected:
    sources:
      - serviceAccountToken:
          path: token
          audience: pipelines.kubeflow.org
          expirationSeconds: 3600
{{- end }}
{{- end }}

{{/* The pod template of a submit (CronJob and Job share it): `momentor pipeline submit`. */}}
{{- define "momentor.submitPodTemplate" -}}
{{- $ := .root -}}
metadata:
  labels:
    {{- include "momentor.labels" $ | nindent 4 }}
    app.kubernetes.io/component: {{ .component }}
    {{- with $.Values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with $.Values.podAnnotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  serviceAccountName: {{ include "momentor.serviceAccountName" $ }}
  {{- /* a projected KFP token needs no automounted API token: it is its own volume */}}
  automountServiceAccountToken: {{ $.Values.serviceAccount.automountToken }}
  restartPolicy: Never
  securityContext:
    {{- toYaml $.Values.podSecurityContext | nindent 4 }}
  {{- with $.Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  containers:
    - name: submit
      image: {{ include "momentor.image" $ }}
      imagePullPolicy: {{ $.Values.image.pullPolicy }}
      workingDir: /tmp
      args:
        - pipeline
        - submit
        - --params
        - /etc/momentor/params.yaml
        - --endpoint
        - {{ include "momentor.kfpEndpoint" $ | quote }}
        - --experiment
        - {{ $.Values.kfp.experiment | quote }}
        - --arg
        - {{ printf "workspace_pvc=%s" (include "momentor.workspaceClaim" $) | quote }}
        {{- with .rawDataUri }}
        - --arg
        - {{ printf "raw_data_uri=%s" . | quote }}
        {{- end }}
        {{- if $.Values.training.pipeline.enabled }}
        {{- /* this release's TrainJob template (its name follows the release), and the runs' node count */}}
        - --arg
        - {{ printf "trainjob_template=%s" (include "momentor.trainJobTemplate" $) | quote }}
        - --arg
        - {{ printf "nodes=%d" (int $.Values.training.pipeline.nodes) | quote }}
        {{- end }}
        {{- with .overrides }}
        {{- include "momentor.overrideArgs" . | trim | nindent 8 }}
        {{- end }}
      env:
        # the image of every pipeline task this submit starts: the same (pinned) image as this pod
        - name: MOMENTOR_IMAGE
          value: {{ include "momentor.image" $ | quote }}
        {{- include "momentor.env" $ | nindent 8 }}
      securityContext:
        {{- toYaml $.Values.securityContext | nindent 8 }}
      resources:
        {{- toYaml $.Values.resources | nindent 8 }}
      volumeMounts:
        {{- include "momentor.volumeMounts" $ | nindent 8 }}
  volumes:
    {{- include "momentor.volumes" $ | nindent 4 }}
  {{- with $.Values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $.Values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $.Values.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
