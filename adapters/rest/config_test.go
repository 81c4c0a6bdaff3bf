package rest_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentbridge/agentbridge/server"
)

func build(t *testing.T, config string) error {
	t.Helper()
	protoDir, _ := filepath.Abs("testdata/proto")
	cfg, err := server.ParseConfig([]byte("proto_paths: [" + protoDir + "]\naudit: {sink: off}\n" + config))
	if err != nil {
		return err
	}
	srv, err := cfg.Build()
	if err == nil {
		_ = srv.Close()
	}
	return err
}

// TestConfigMistakes: mistakes in the rest: section and in bindings stop the server at start,
// each reported.
func TestConfigMistakes(t *testing.T) {
	t.Parallel()
	pw := filepath.Join(t.TempDir(), "pw")
	_ = os.WriteFile(pw, []byte("secret\n"), 0o600)
	cases := []struct {
		name, config string
		says         []string
	}{
		{"unknown key", catalog("http://127.0.0.1:1", "    rest:\n      logn: {}\n"), []string{`line 12: unknown setting "logn"`, `did you mean "login"?`}},
		{"password in clear", catalog("http://127.0.0.1:1", "    rest:\n      login: {url: /login, password_field: pw, password: hunter2}\n"), []string{"password: not a ${ENV_VAR} reference"}},
		{"login without url", catalog("http://127.0.0.1:1", "    rest:\n      login: {password_field: pw, password_file: "+pw+"}\n"), []string{"url is required"}},
		{"body error without path", catalog("http://127.0.0.1:1", "    rest:\n      body_error: {value: error}\n"), []string{"body_error: path is required"}},
		{"bindings", `
protos: [acme/bad/v1/bad.proto]
services: [acme.bad.v1.BadService]
backends:
  bad: {kind: rest, endpoint: "http://127.0.0.1:1"}
`, []string{
			`NoSuchField: rest: URL template "/x/{nope}": {nope}: acme.bad.v1.Req has no field "nope"`,
			`BadVerb: rest: method "FETCH" is not an HTTP verb`,
			`XmlStar: rest: an XML body of body "*" would carry the fields the path`,
			`FormMessage: rest: field inner is a message or map, which a REST_BODY_FORMAT_FORM body cannot carry`,
			`NoToken: rest: pagination: acme.bad.v1.Resp needs a string field page_token`,
			`rest: reply_paths[0]: field "inner" is a message or map`,
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := build(t, c.config)
			if err == nil {
				t.Fatal("built")
			}
			for _, s := range c.says {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error does not say %q:\n%v", s, err)
				}
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("the error shows the password: %v", err)
			}
		})
	}
}

// TestPasswordFileRelative: a relative password_file starts from the config file's directory,
// as every file name in the config does, not from the process's working directory.
func TestPasswordFileRelative(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	protoDir, _ := filepath.Abs("testdata/proto")
	if err := os.MkdirAll(filepath.Join(dir, "secrets"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "secrets", "pw"), []byte("secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	write := func(file string) string {
		path := filepath.Join(dir, "agentbridge.yaml")
		config := "proto_paths: [" + protoDir + "]\naudit: {sink: off}\n" +
			catalog("http://127.0.0.1:1", "    rest:\n      login: {url: /login, password_field: pw, password_file: "+file+"}\n")
		if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	cfg, err := server.LoadConfig(write("secrets/pw"))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := cfg.Build()
	if err != nil {
		t.Fatalf("a password file beside the config: %v", err)
	}
	_ = srv.Close()

	cfg, err = server.LoadConfig(write("secrets/missing"))
	if err != nil {
		t.Fatal(err)
	}
	if srv, err := cfg.Build(); err == nil {
		_ = srv.Close()
		t.Fatal("a missing password file was accepted")
	}
}
