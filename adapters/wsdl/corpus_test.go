package wsdl_test

import (
	"bufio"
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentbridge/agentbridge/adapters/wsdl"
	"github.com/agentbridge/agentbridge/server"

	_ "github.com/agentbridge/agentbridge/adapters/standard"
)

const corpus = "../../../shared/corpus/wsdl"

// corpusMains lists the corpus's entry-point WSDLs from its manifest.
func corpusMains(t testing.TB) []string {
	t.Helper()
	f, err := os.Open(filepath.Join(corpus, "MANIFEST.tsv"))
	if err != nil {
		t.Fatalf("the shared corpus is not beside the repository: %v", err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		cols := strings.Split(sc.Text(), "\t")
		if len(cols) > 2 && cols[1] == "main" {
			out = append(out, cols[0])
		}
	}
	return out
}

// notImportable are corpus WSDLs that must fail, and the words their error must hold.
var notImportable = map[string][]string{
	"nodesoap-NEGATIVE-default_namespace_soap12.wsdl": {"default_namespace_soap12.wsdl:30:5", `prefix "soap"`},
	"zeep-http-binding.wsdl":                          {"only non-SOAP bindings", "HTTP"},
}

// TestImportCorpus imports every WSDL of the corpus, then checks the result as a user would
// use it: buf lint STANDARD passes on the proto, and the config builds exactly as serve
// builds it (every method bound, every XML plan made).
func TestImportCorpus(t *testing.T) {
	buf := os.Getenv("AGENTBRIDGE_BUF")
	for _, name := range corpusMains(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			res, err := wsdl.Import(context.Background(), filepath.Join(corpus, name), wsdl.Options{OutDir: dir})
			if want, bad := notImportable[name]; bad {
				if err == nil {
					t.Fatalf("import succeeded; want an error holding %q", want)
				}
				for _, w := range want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not hold %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := res.WriteTo(dir); err != nil {
				t.Fatal(err)
			}
			srv := buildImported(t, dir, res)
			methods := 0
			for _, s := range srv.Services() {
				methods += s.Desc.Methods().Len()
			}
			if methods == 0 {
				t.Fatal("no methods bound")
			}
			if buf == "" {
				t.Log("AGENTBRIDGE_BUF not set: buf lint skipped (make test sets it)")
				return
			}
			lintImported(t, buf, dir)
		})
	}
}

// buildImported builds an imported config as serve does, minus the listeners.
func buildImported(t *testing.T, dir string, res *wsdl.Result) *server.Server {
	t.Helper()
	cfg, err := server.LoadConfig(filepath.Join(dir, "agentbridge.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := cfg.Build(server.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatalf("the imported config does not build: %v\n%s", err, res.Proto)
	}
	return srv
}

// lintImported runs buf lint STANDARD over an imported directory, with agentbridge's options
// and the googleapis protos beside it as an unlinted module.
func lintImported(t *testing.T, buf, dir string) {
	t.Helper()
	bufWorkspace(t, dir)
	_, _ = runBuf(t, buf, dir, "lint") // runBuf reports lint failures itself
}

func runBuf(t *testing.T, buf, dir string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(buf, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "BUF_CACHE_DIR="+filepath.Join(t.TempDir(), "cache"))
	out, err := cmd.CombinedOutput()
	if err != nil && args[0] == "lint" {
		t.Errorf("buf lint: %v\n%s", err, out)
	}
	return string(out), err
}

// bufWorkspace makes dir a buf workspace: the imported proto linted with STANDARD and checked
// for breaking changes with WIRE_JSON (what breaks gRPC and JSON callers), and agentbridge's
// options and the googleapis protos it imports in an unlinted module.
func bufWorkspace(t *testing.T, dir string) {
	t.Helper()
	deps := filepath.Join(dir, "deps")
	for src, dst := range map[string]string{
		"../../proto/agentbridge/v1/options.proto":                           "agentbridge/v1/options.proto",
		"../../proto/agentbridge/v1/http.proto":                              "agentbridge/v1/http.proto",
		"../../proto/agentbridge/v1/xmlrpc.proto":                            "agentbridge/v1/xmlrpc.proto",
		"../../proto/third_party/googleapis/google/api/annotations.proto":    "google/api/annotations.proto",
		"../../proto/third_party/googleapis/google/api/http.proto":           "google/api/http.proto",
		"../../proto/third_party/googleapis/google/api/field_behavior.proto": "google/api/field_behavior.proto",
	} {
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(deps, dst)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	conf := "version: v2\nmodules:\n  - path: .\n    excludes: [deps]\n    lint:\n      use: [STANDARD]\n    breaking:\n      use: [WIRE_JSON]\n  - path: deps\n    lint:\n      ignore: [deps]\n"
	if err := os.WriteFile(filepath.Join(dir, "buf.yaml"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
}
