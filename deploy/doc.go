// Package deploy holds what runs scorepipe on a cluster: the container
// image's Dockerfile and the Kubernetes manifests under kubernetes/ (a
// nightly CronJob, an Indexed Job of shards and its collect step, their
// ConfigMap, Secret and volumes). It has no code: its tests decode every
// manifest strictly into its k8s.io/api type, check that the manifests
// agree with each other and with scorepipe's configuration, and build the
// binary as the Dockerfile does.
package deploy
