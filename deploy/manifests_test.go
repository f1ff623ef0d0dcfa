package deploy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/scorepipe/scorepipe/config"
)

// kinds maps the apiVersion and kind of a manifest to a new value of its
// k8s.io/api type. A manifest of any other kind fails the test: add it here.
var kinds = map[string]func() any{
	"batch/v1 CronJob":         func() any { return &batchv1.CronJob{} },
	"batch/v1 Job":             func() any { return &batchv1.Job{} },
	"v1 ConfigMap":             func() any { return &corev1.ConfigMap{} },
	"v1 Secret":                func() any { return &corev1.Secret{} },
	"v1 PersistentVolumeClaim": func() any { return &corev1.PersistentVolumeClaim{} },
	"v1 ServiceAccount":        func() any { return &corev1.ServiceAccount{} },
}

// object is one decoded manifest.
type object struct {
	file string
	kind string
	name string
	v    any
}

// decodeStrict decodes one YAML document into the k8s.io/api type its
// kind names: a field the type does not have, a value of the wrong type,
// a second object in the document or an unknown kind is an error.
func decodeStrict(doc []byte) (kind string, v any, err error) {
	data, err := yaml.YAMLToJSON(doc)
	if err != nil {
		return "", nil, err
	}
	var meta struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := json.Unmarshal(data, &meta); err != nil {
		return "", nil, err
	}
	kind = meta.APIVersion + " " + meta.Kind
	newValue, ok := kinds[kind]
	if !ok {
		return kind, nil, fmt.Errorf("apiVersion %q kind %q is not a kind the test knows", meta.APIVersion, meta.Kind)
	}
	v = newValue()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return kind, nil, err
	}
	if dec.More() {
		return kind, nil, fmt.Errorf("more than one object in the document")
	}
	return kind, v, nil
}

// documents splits a YAML stream at its "---" lines, leaving out the
// documents that hold only comments.
func documents(data []byte) [][]byte {
	var docs [][]byte
	for _, doc := range regexp.MustCompile(`(?m)^---[ \t]*$`).Split(string(data), -1) {
		for _, line := range strings.Split(doc, "\n") {
			if t := strings.TrimSpace(line); t != "" && !strings.HasPrefix(t, "#") {
				docs = append(docs, []byte(doc))
				break
			}
		}
	}
	return docs
}

// readManifests decodes every manifest under kubernetes/ strictly.
func readManifests(t *testing.T) []object {
	t.Helper()
	files, err := filepath.Glob("kubernetes/*")
	if err != nil {
		t.Fatal(err)
	}
	var objs []object
	for _, f := range files {
		if ext := filepath.Ext(f); ext != ".yaml" {
			t.Errorf("%s: manifests are .yaml files (the test reads those)", f)
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		docs := documents(data)
		if len(docs) == 0 {
			t.Errorf("%s holds no manifest", f)
		}
		for i, doc := range docs {
			kind, v, err := decodeStrict(doc)
			if err != nil {
				t.Errorf("%s, document %d: %v", f, i+1, err)
				continue
			}
			var meta struct {
				Metadata struct {
					Name string `json:"name"`
				} `json:"metadata"`
			}
			js, _ := json.Marshal(v)
			_ = json.Unmarshal(js, &meta)
			if meta.Metadata.Name == "" {
				t.Errorf("%s, document %d: no metadata.name", f, i+1)
			}
			objs = append(objs, object{file: filepath.Base(f), kind: kind, name: meta.Metadata.Name, v: v})
		}
	}
	return objs
}

func TestManifestsDecodeStrictly(t *testing.T) {
	objs := readManifests(t)
	got := map[string]bool{}
	for _, o := range objs {
		got[o.kind] = true
	}
	for _, want := range []string{"batch/v1 CronJob", "batch/v1 Job", "v1 ConfigMap", "v1 Secret", "v1 PersistentVolumeClaim"} {
		if !got[want] {
			t.Errorf("no %s among the manifests", want)
		}
	}
}

// TestDecodeStrictRefuses shows that the decoding the manifests pass is
// strict: each kind of mistake a hand-edited manifest can hold fails it.
func TestDecodeStrictRefuses(t *testing.T) {
	valid := "apiVersion: batch/v1\nkind: Job\nmetadata: {name: x}\nspec:\n  completions: 4\n  template:\n    spec:\n      containers: [{name: c, image: i}]\n"
	if _, _, err := decodeStrict([]byte(valid)); err != nil {
		t.Fatalf("the valid Job: %v", err)
	}
	tests := []struct {
		name, doc, want string
	}{
		{"misspelt field", strings.Replace(valid, "completions:", "completion:", 1), `unknown field "completion"`},
		{"field at the wrong level", strings.Replace(valid, "  completions: 4\n", "  completions: 4\n  image: i\n", 1), `unknown field "image"`},
		{"wrong type", strings.Replace(valid, "completions: 4", "completions: four", 1), "cannot unmarshal string"},
		{"unknown kind", strings.Replace(valid, "kind: Job", "kind: Jobs", 1), "not a kind the test knows"},
		{"wrong apiVersion", strings.Replace(valid, "batch/v1", "batch/v2", 1), "not a kind the test knows"},
		{"bad YAML", valid + "  : :\n", "did not find expected key"},
		{"misspelt container field", strings.Replace(valid, "image: i", "imag: i", 1), `unknown field "imag"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := decodeStrict([]byte(tt.doc))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("decodeStrict = %v, want an error saying %q", err, tt.want)
			}
		})
	}
}

// podOf returns the pod template and job spec of a Job or CronJob.
func podOf(o object) (*batchv1.JobSpec, *corev1.PodSpec) {
	switch v := o.v.(type) {
	case *batchv1.Job:
		return &v.Spec, &v.Spec.Template.Spec
	case *batchv1.CronJob:
		return &v.Spec.JobTemplate.Spec, &v.Spec.JobTemplate.Spec.Template.Spec
	}
	return nil, nil
}

func envValue(c *corev1.Container, name string) (string, bool) {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value, true
		}
	}
	return "", false
}

// argValue returns the value after flag in args.
func argValue(args []string, flag string) string {
	if i := slices.Index(args, flag); i >= 0 && i+1 < len(args) {
		return args[i+1]
	}
	return ""
}

// TestManifestsAgree checks what the API types cannot: that the manifests
// name each other rightly, run scorepipe as a non-root user on a read-only
// root file system with resources set, shard consistently, and hand it
// configurations that scorepipe itself accepts.
func TestManifestsAgree(t *testing.T) {
	objs := readManifests(t)
	byKind := map[string][]string{}
	var configMap *corev1.ConfigMap
	for _, o := range objs {
		byKind[o.kind] = append(byKind[o.kind], o.name)
		if cm, ok := o.v.(*corev1.ConfigMap); ok && o.name == "scorepipe-config" {
			configMap = cm
		}
	}
	if configMap == nil {
		t.Fatal("no ConfigMap scorepipe-config")
	}
	configs := map[string]*config.Config{}
	for key, text := range configMap.Data {
		path := filepath.Join(t.TempDir(), key)
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		cfg, err := config.LoadConfig(path)
		if err != nil {
			t.Errorf("ConfigMap scorepipe-config, %s: scorepipe refuses it: %v", key, err)
			continue
		}
		if !strings.HasPrefix(cfg.Output.Dir, "/data/") {
			t.Errorf("%s: output.dir %s: want a folder inside the data volume (/data/…), never its mount point", key, cfg.Output.Dir)
		}
		configs["/etc/scorepipe/"+key] = cfg
	}
	images := map[string]bool{}
	shardCounts := map[string][]string{} // output.dir → SCOREPIPE_SHARDS and collect --shards, each once
	workloads := 0
	for _, o := range objs {
		job, pod := podOf(o)
		if pod == nil {
			continue
		}
		workloads++
		where := o.file + " " + o.name
		checkPodSecurity(t, where, pod)
		volumes := map[string]corev1.Volume{}
		for _, v := range pod.Volumes {
			volumes[v.Name] = v
			switch {
			case v.ConfigMap != nil && !slices.Contains(byKind["v1 ConfigMap"], v.ConfigMap.Name):
				t.Errorf("%s: volume %s names ConfigMap %s, which no manifest makes", where, v.Name, v.ConfigMap.Name)
			case v.PersistentVolumeClaim != nil && !slices.Contains(byKind["v1 PersistentVolumeClaim"], v.PersistentVolumeClaim.ClaimName):
				t.Errorf("%s: volume %s names claim %s, which no manifest makes", where, v.Name, v.PersistentVolumeClaim.ClaimName)
			}
		}
		if len(pod.Containers) != 1 {
			t.Fatalf("%s: %d containers, want 1", where, len(pod.Containers))
		}
		c := &pod.Containers[0]
		images[c.Image] = true
		mounts := map[string]bool{}
		for _, m := range c.VolumeMounts {
			if _, ok := volumes[m.Name]; !ok {
				t.Errorf("%s: mount %s names no volume of the pod", where, m.Name)
			}
			mounts[m.MountPath] = true
		}
		for _, e := range c.EnvFrom {
			if e.SecretRef != nil && !slices.Contains(byKind["v1 Secret"], e.SecretRef.Name) {
				t.Errorf("%s: envFrom names Secret %s, which no manifest makes", where, e.SecretRef.Name)
			}
		}
		if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
			t.Errorf("%s: want cpu and memory requests and a memory limit, got %+v", where, c.Resources)
		}
		if !mounts["/tmp"] {
			t.Errorf("%s: no volume at /tmp: the root file system is read-only, and excelize reads large input workbooks through temporary files", where)
		}
		if pod.RestartPolicy != corev1.RestartPolicyNever {
			t.Errorf("%s: want restartPolicy Never: the Job retries a failed pod, a restarted container would not say why it failed", where)
		}
		if c.Args[0] == "run" && !failsJobOnExitOne(job) {
			t.Errorf("%s: want a podFailurePolicy that fails the Job on exit 1 (a configuration error) and retries exit 3 (resumable)", where)
		}
		checkCommand(t, where, job, c, configs, mounts, shardCounts)
	}
	for dir, counts := range shardCounts {
		if len(counts) != 1 {
			t.Errorf("%s: written and collected with shard counts %v: want one", dir, counts)
		}
	}
	if workloads < 3 {
		t.Errorf("%d workloads, want the nightly CronJob, the sharded Job and its collect Job", workloads)
	}
	if len(images) != 1 {
		t.Errorf("images %v: want every workload on the same image", images)
	}
}

// failsJobOnExitOne reports whether the Job's podFailurePolicy fails it at
// once on exit code 1, and not on 3.
func failsJobOnExitOne(job *batchv1.JobSpec) bool {
	if job.PodFailurePolicy == nil {
		return false
	}
	one := false
	for _, r := range job.PodFailurePolicy.Rules {
		if r.OnExitCodes == nil || r.OnExitCodes.Operator != batchv1.PodFailurePolicyOnExitCodesOpIn {
			continue
		}
		if slices.Contains(r.OnExitCodes.Values, 3) && r.Action != batchv1.PodFailurePolicyActionCount && r.Action != batchv1.PodFailurePolicyActionIgnore {
			return false
		}
		if slices.Contains(r.OnExitCodes.Values, 1) && r.Action == batchv1.PodFailurePolicyActionFailJob {
			one = true
		}
	}
	return one
}

func checkPodSecurity(t *testing.T, where string, pod *corev1.PodSpec) {
	t.Helper()
	ps := pod.SecurityContext
	if ps == nil || ps.RunAsNonRoot == nil || !*ps.RunAsNonRoot || ps.RunAsUser == nil || *ps.RunAsUser != 65532 {
		t.Errorf("%s: want the pod to run as non-root user 65532 (the image's), got %+v", where, ps)
	}
	for _, c := range pod.Containers {
		s := c.SecurityContext
		if s == nil || s.ReadOnlyRootFilesystem == nil || !*s.ReadOnlyRootFilesystem ||
			s.AllowPrivilegeEscalation == nil || *s.AllowPrivilegeEscalation ||
			s.Capabilities == nil || !slices.Contains(s.Capabilities.Drop, "ALL") {
			t.Errorf("%s: container %s: want a read-only root file system, no privilege escalation, every capability dropped", where, c.Name)
		}
	}
}

// checkCommand checks what the container runs: its config is one of the
// ConfigMap's, its state directory a mounted volume, and a sharded job's
// shard count the same everywhere.
func checkCommand(t *testing.T, where string, job *batchv1.JobSpec, c *corev1.Container, configs map[string]*config.Config, mounts map[string]bool, shardCounts map[string][]string) {
	t.Helper()
	if len(c.Args) == 0 {
		t.Errorf("%s: no args", where)
		return
	}
	shardsEnv, sharded := envValue(c, "SCOREPIPE_SHARDS")
	indexed := job.CompletionMode != nil && *job.CompletionMode == batchv1.IndexedCompletion
	switch c.Args[0] {
	case "run":
		path := argValue(c.Args, "--config")
		cfg := configs[path]
		if cfg == nil {
			t.Errorf("%s: --config %q is not a key of the ConfigMap mounted at /etc/scorepipe", where, path)
			return
		}
		state, ok := envValue(c, "SCOREPIPE_STATE_DIR")
		if !ok || !mounts[state] {
			t.Errorf("%s: SCOREPIPE_STATE_DIR %q is not a mounted volume: the reply store would be lost with the pod", where, state)
		}
		if indexed != sharded {
			t.Errorf("%s: an Indexed Job sets SCOREPIPE_SHARDS, and only it (indexed %v, SCOREPIPE_SHARDS %q)", where, indexed, shardsEnv)
		}
		if indexed {
			n := fmt.Sprint(*job.Completions)
			if job.Parallelism == nil || fmt.Sprint(*job.Parallelism) != n || shardsEnv != n {
				t.Errorf("%s: completions %s, parallelism %v, SCOREPIPE_SHARDS %q: want all equal", where, n, job.Parallelism, shardsEnv)
			}
			if !slices.Contains(c.Args, "--collect") {
				t.Errorf("%s: a sharded job's pods should collect (--collect), or a collect step follow", where)
			}
			if job.BackoffLimitPerIndex == nil {
				t.Errorf("%s: want backoffLimitPerIndex: a shard is retried on its own", where)
			}
			if !slices.Contains(shardCounts[cfg.Output.Dir], shardsEnv) {
				shardCounts[cfg.Output.Dir] = append(shardCounts[cfg.Output.Dir], shardsEnv)
			}
		}
	case "collect":
		if len(c.Args) < 2 || !mounts["/data"] || !strings.HasPrefix(c.Args[1], "/data/") {
			t.Errorf("%s: collect of %v: want a folder inside the data volume", where, c.Args)
			return
		}
		found := false
		for path, cfg := range configs {
			if cfg.Output.Dir == c.Args[1] {
				found = true
				if argValue(c.Args, "--config") != path {
					t.Errorf("%s: collects %s with --config %q, want %s", where, c.Args[1], argValue(c.Args, "--config"), path)
				}
				if n := argValue(c.Args, "--shards"); !slices.Contains(shardCounts[cfg.Output.Dir], n) {
					shardCounts[cfg.Output.Dir] = append(shardCounts[cfg.Output.Dir], n)
				}
			}
		}
		if !found {
			t.Errorf("%s: collects %s, the output.dir of no configuration", where, c.Args[1])
		}
	default:
		t.Errorf("%s: runs %q, want run or collect", where, c.Args[0])
	}
}
