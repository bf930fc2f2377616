package main

import (
	"archive/zip"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

func TestCheckVersionAcceptsOnlyReleaseTags(t *testing.T) {
	for _, tc := range []struct {
		version string
		ok      bool
	}{
		{"v0.1.0", true},
		{"v1.2.3-rc.1", true},
		{"v0.1", false},        // not canonical
		{"0.1.0", false},       // no v
		{"v0.1.0+meta", false}, // build metadata is not canonical
		{"v0.0.0-00010101000000-000000000000", false},
		{"v0.1.1-0.20260101000000-abcdefabcdef", false},
	} {
		err := checkVersion(tc.version)
		if (err == nil) != tc.ok {
			t.Errorf("checkVersion(%q) = %v, want ok=%v", tc.version, err, tc.ok)
		}
	}
}

// writeTree writes files (path → content) under a new temporary directory.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestPublishServesTheModuleWithoutItsNestedModules(t *testing.T) {
	src := writeTree(t, map[string]string{
		"go.mod":        "module example.com/m\n\ngo 1.25.0\n",
		"m.go":          "package m\n",
		"sub/go.mod":    "module example.com/m/sub\n\ngo 1.25.0\n",
		"sub/sub.go":    "package sub\n",
		"internal/x.go": "package internal\n",
	})
	out := t.TempDir()
	at := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	for range 2 { // publishing again lists the version once
		path, err := publish(out, src, "v0.1.0", at)
		if err != nil {
			t.Fatal(err)
		}
		if path != "example.com/m" {
			t.Fatalf("module path %q", path)
		}
	}
	vdir := filepath.Join(out, "example.com", "m", "@v")
	list, err := os.ReadFile(filepath.Join(vdir, "list"))
	if err != nil || string(list) != "v0.1.0\n" {
		t.Fatalf("list = %q, %v", list, err)
	}
	var info struct {
		Version string
		Time    time.Time
	}
	b, err := os.ReadFile(filepath.Join(vdir, "v0.1.0.info"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &info); err != nil || info.Version != "v0.1.0" || !info.Time.Equal(at) {
		t.Fatalf("info = %s, %v", b, err)
	}
	zr, err := zip.OpenReader(filepath.Join(vdir, "v0.1.0.zip"))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
	}
	sort.Strings(names)
	want := "example.com/m@v0.1.0/go.mod example.com/m@v0.1.0/internal/x.go example.com/m@v0.1.0/m.go"
	if got := strings.Join(names, " "); got != want {
		t.Fatalf("zip holds %s, want %s", got, want)
	}
}

func TestPublishRefusesWhatNoTagCouldBe(t *testing.T) {
	src := writeTree(t, map[string]string{"go.mod": "module example.com/m\n"})
	if _, err := publish(t.TempDir(), src, "v0.0.0-00010101000000-000000000000", time.Now()); err == nil {
		t.Fatal("a pseudo-version was published")
	}
	noModule := writeTree(t, map[string]string{"go.mod": "go 1.25.0\n"})
	if _, err := publish(t.TempDir(), noModule, "v0.1.0", time.Now()); err == nil {
		t.Fatal("a go.mod without a module line was published")
	}
}

// TestTheGoCommandDownloadsFromTheProxy is the proxy's real check: the go
// command itself, with an empty module cache, fetches and verifies the module.
func TestTheGoCommandDownloadsFromTheProxy(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatal("the go command is needed:", err)
	}
	src := writeTree(t, map[string]string{
		"go.mod": "module example.com/m\n\ngo 1.25.0\n",
		"m.go":   "package m\n\n// Answer is the answer.\nconst Answer = 42\n",
	})
	out := t.TempDir()
	if _, err := publish(out, src, "v0.2.0", time.Now()); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(gobin, "mod", "download", "-json", "example.com/m@v0.2.0")
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(),
		"GOPROXY=file://"+filepath.ToSlash(out), "GONOSUMDB=example.com", "GOFLAGS=-modcacherw",
		"GOMODCACHE="+t.TempDir(), "GOWORK=off")
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go mod download: %v\n%s", err, b)
	}
	var got struct{ Version, Dir string }
	if err := json.Unmarshal(b, &got); err != nil || got.Version != "v0.2.0" {
		t.Fatalf("go mod download said %s (%v)", b, err)
	}
	if _, err := os.Stat(filepath.Join(got.Dir, "m.go")); err != nil {
		t.Fatal(err)
	}
}
