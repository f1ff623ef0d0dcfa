package deploy

import (
	"context"
	"debug/buildinfo"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
)

// dockerfile reads the Dockerfile's instructions, continuation lines
// joined and comments left out.
func dockerfile(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(string(data), "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") || (trimmed == "" && cur.Len() == 0) {
			continue
		}
		if more, ok := strings.CutSuffix(trimmed, "\\"); ok {
			cur.WriteString(more + " ")
			continue
		}
		cur.WriteString(trimmed)
		if s := strings.TrimSpace(cur.String()); s != "" {
			out = append(out, s)
		}
		cur.Reset()
	}
	return out
}

// shellWords splits a shell command line into words, as sh would for
// the plain quoting a Dockerfile uses (double quotes, no escapes),
// substituting the build arguments in args.
func shellWords(s string, args map[string]string) []string {
	s = regexp.MustCompile(`\$\{(\w+)\}`).ReplaceAllStringFunc(s, func(v string) string { return args[v[2:len(v)-1]] })
	var words []string
	var cur strings.Builder
	quoted, inWord := false, false
	for _, r := range s {
		switch {
		case r == '"':
			quoted, inWord = !quoted, true
		case (r == ' ' || r == '\t') && !quoted:
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

// goBuild returns the environment, flags and package of the Dockerfile's
// go build, with VERSION set to version, and where it writes the binary.
func goBuild(t *testing.T, version string) (env, flags []string, pkg, output string) {
	t.Helper()
	for _, ins := range dockerfile(t) {
		if !strings.HasPrefix(ins, "RUN ") || !strings.Contains(ins, " go build ") {
			continue
		}
		words := shellWords(strings.TrimPrefix(ins, "RUN "), map[string]string{"VERSION": version})
		i := 0
		for ; i < len(words) && strings.HasPrefix(words[i], "--mount="); i++ {
		}
		for ; i < len(words) && strings.Contains(words[i], "=") && !strings.HasPrefix(words[i], "-"); i++ {
			env = append(env, words[i])
		}
		if i+1 >= len(words) || words[i] != "go" || words[i+1] != "build" {
			t.Fatalf("the Dockerfile's build is %q: want [ENV=…] go build …", ins)
		}
		rest := words[i+2:]
		for j := 0; j < len(rest); j++ {
			switch {
			case rest[j] == "-o" && j+1 < len(rest):
				output = rest[j+1]
				j++
			case strings.HasPrefix(rest[j], "-"):
				flags = append(flags, rest[j])
			default:
				pkg = rest[j]
			}
		}
		return env, flags, pkg, output
	}
	t.Fatal("no RUN … go build … in the Dockerfile")
	return
}

// TestDockerfileBuild builds the binary as the Dockerfile does (its
// environment and flags, read from it) and checks that it is static,
// trimmed, stamped with its VCS revision and version, and runs. The image
// itself cannot be built here: that needs a container engine.
func TestDockerfileBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary: not in -short")
	}
	env, flags, pkg, output := goBuild(t, "v9.9.9-test")
	for _, want := range []string{"CGO_ENABLED=0"} {
		if !contains(env, want) {
			t.Errorf("the Dockerfile builds with %v, want %s", env, want)
		}
	}
	for _, want := range []string{"-trimpath", "-buildvcs=true"} {
		if !contains(flags, want) {
			t.Errorf("the Dockerfile builds with %v, want %s", flags, want)
		}
	}
	bin := filepath.Join(t.TempDir(), "scorepipe")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", append(append([]string{"build"}, flags...), "-o", bin, pkg)...)
	cmd.Dir = ".." // the Dockerfile builds from the root of the clone
	cmd.Env = append(os.Environ(), env...)
	if msg, err := cmd.CombinedOutput(); err != nil {
		if strings.Contains(string(msg), "error obtaining VCS status") {
			t.Skipf("not in a git clone (a worktree, or an export without .git): %s", msg)
		}
		t.Fatalf("go build as the Dockerfile does: %v\n%s", err, msg)
	}
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	for key, want := range map[string]string{"CGO_ENABLED": "0", "-trimpath": "true"} {
		if settings[key] != want {
			t.Errorf("build setting %s = %q, want %q", key, settings[key], want)
		}
	}
	// The go command finds the repository by a .git folder: a git
	// worktree's .git is a file, and gets no VCS stamp (nor would its
	// image; the Dockerfile says to build from a clone).
	if fi, err := os.Stat("../.git"); err == nil && fi.IsDir() {
		if settings["vcs"] != "git" || len(settings["vcs.revision"]) < 40 {
			t.Errorf("vcs %q, vcs.revision %q: the binary does not say which commit it was built from", settings["vcs"], settings["vcs.revision"])
		}
	} else {
		t.Logf("not a clone (../.git is not a folder): the VCS stamp is not checked here")
	}
	f, err := elf.Open(bin)
	if err != nil {
		if runtime.GOOS == "linux" {
			t.Fatal(err)
		}
	} else {
		defer f.Close()
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				t.Error("the binary asks for a dynamic loader: it is not static and would not run on distroless/static")
			}
		}
		if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
			t.Errorf("the binary needs shared libraries %v", libs)
		}
	}
	out, err := exec.CommandContext(ctx, bin, "--version").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "v9.9.9-test") {
		t.Errorf("%s --version: %v, %q; want the version the Dockerfile stamps", output, err, out)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestDockerfileImage checks what the image gives the manifests: the
// binary where the entry point runs it, the non-root user the pods run
// as, the state directory they mount a volume on.
func TestDockerfileImage(t *testing.T) {
	ins := dockerfile(t)
	_, _, _, output := goBuild(t, "dev")
	var final []string // the instructions of the last stage
	for _, i := range ins {
		if strings.HasPrefix(i, "FROM ") {
			final = nil
		}
		final = append(final, i)
	}
	if len(final) == 0 || !regexp.MustCompile(`^FROM gcr\.io/distroless/static[-\w.]*:nonroot$`).MatchString(final[0]) {
		t.Errorf("the image is %q, want distroless/static:nonroot (CA certificates, time zones, a non-root user)", final[0])
	}
	joined := strings.Join(final, "\n")
	for _, want := range []string{
		"COPY --from=build " + output + " /usr/local/bin/scorepipe",
		`ENTRYPOINT ["/usr/local/bin/scorepipe"]`,
		"USER 65532:65532",
		"ENV SCOREPIPE_STATE_DIR=/var/lib/scorepipe",
		`VOLUME ["/var/lib/scorepipe"]`,
	} {
		if !strings.Contains(joined, want) {
			t.Errorf("the image's stage lacks %q", want)
		}
	}
	// The manifests mount the state volume where the image keeps state.
	for _, o := range readManifests(t) {
		_, pod := podOf(o)
		if pod == nil {
			continue
		}
		c := &pod.Containers[0]
		if v, ok := envValue(c, "SCOREPIPE_STATE_DIR"); ok && v != "/var/lib/scorepipe" {
			t.Errorf("%s: SCOREPIPE_STATE_DIR %s, the image's is /var/lib/scorepipe", o.name, v)
		}
		if pod.SecurityContext == nil || pod.SecurityContext.RunAsUser == nil || *pod.SecurityContext.RunAsUser != 65532 {
			t.Errorf("%s: runs as %v, the image's user is 65532", o.name, pod.SecurityContext)
		}
	}
}
