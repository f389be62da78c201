{{/* The image every component runs: repository:tag, the tag defaulting to the chart's appVersion. */}}
{{- define "anchorlb.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}
