package adapters

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/reflect/protoreflect"

	agentbridgev1 "github.com/agentbridge/agentbridge/gen/agentbridge/v1"
)

// kindSettings is a kind's own section, with the shapes settings take: scalars, a duration, a
// nested struct, a list of structs and a map.
type kindSettings struct {
	Prefix  string        `yaml:"prefix"`
	Every   time.Duration `yaml:"every"`
	Login   *kindLogin    `yaml:"login"`
	Routes  []kindRoute   `yaml:"routes"`
	Aliases map[string]kindRoute
}

type kindLogin struct {
	URL  string `yaml:"url"`
	User string `yaml:"user"`
}

type kindRoute struct {
	Path string `yaml:"path"`
}

// backendsFrom decodes backends as the server's config does: strictly, with the inline map
// catching what the shared settings do not name.
func backendsFrom(t *testing.T, src string) map[string]Backend {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader([]byte(src)))
	dec.KnownFields(true)
	var c struct {
		Backends map[string]Backend `yaml:"backends"`
	}
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("decode: %v", err)
	}
	for name, b := range c.Backends {
		b.Name = name
		c.Backends[name] = b
	}
	return c.Backends
}

func init() {
	Register("settingstest", func(b Backend) (Adapter, error) {
		var s kindSettings
		if err := b.DecodeSettings(&s); err != nil {
			return nil, err
		}
		return &settingsAdapter{s}, nil
	})
	Register("settingless", func(Backend) (Adapter, error) { return &settingsAdapter{}, nil })
}

type settingsAdapter struct{ s kindSettings }

func (*settingsAdapter) Bind(protoreflect.MethodDescriptor, *agentbridgev1.Binding) (Unary, error) {
	return nil, errors.New("not for calls")
}

func TestDecodeSettings(t *testing.T) {
	t.Parallel()
	bs := backendsFrom(t, `backends:
  erp:
    kind: settingstest
    endpoint: http://erp.internal/api
    timeout: 5s
    settingstest:
      prefix: "X-"
      every: 90s
      login: {url: /login, user: bridge}
      routes:
        - path: /a
        - path: /b
      aliases:
        old: {path: /c}
`)
	a, err := New(bs["erp"])
	if err != nil {
		t.Fatal(err)
	}
	s := a.(*settingsAdapter).s
	if s.Prefix != "X-" || s.Every != 90*time.Second || s.Login == nil || s.Login.User != "bridge" || len(s.Routes) != 2 || s.Routes[1].Path != "/b" || s.Aliases["old"].Path != "/c" {
		t.Errorf("settings = %+v", s)
	}
}

func TestDecodeSettingsErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{"unknown key", `
    settingstest:
      prefx: "X-"`, []string{`backend "erp": settingstest: line 6: unknown setting "prefx"`, `did you mean "prefix"?`}},
		{"unknown nested key", `
    settingstest:
      login: {url: /login, usr: bridge}`, []string{`line 6: unknown setting "usr"`, `did you mean "user"?`}},
		{"unknown key in a list item", `
    settingstest:
      routes:
        - path: /a
        - pth: /b`, []string{`line 8: unknown setting "pth"`}},
		{"unknown key in a map value", `
    settingstest:
      aliases:
        old: {path: /c, extra: 1}`, []string{`line 7: unknown setting "extra"`}},
		{"wrong type", `
    settingstest:
      every: soon`, []string{`backend "erp": settingstest:`, "line 6", "soon"}},
		{"a shared key misspelt", `
    timout: 5s`, []string{`backend "erp": line 5: unknown setting "timout"`, `did you mean "timeout"?`}},
		{"another kind's section", `
    settingless:
      prefix: "X-"`, []string{`unknown setting "settingless"`, `this backend's kind is "settingstest"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src := "backends:\n  erp:\n    kind: settingstest\n    endpoint: http://erp.internal/api" + tt.yaml + "\n"
			_, err := New(backendsFrom(t, src)["erp"])
			if err == nil {
				t.Fatal("New succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// A section given to a kind that reads none would be ignored: it is an error instead.
func TestSettingsNotRead(t *testing.T) {
	t.Parallel()
	bs := backendsFrom(t, `backends:
  erp:
    kind: settingless
    endpoint: http://erp.internal/api
    settingless:
      prefix: "X-"
`)
	_, err := New(bs["erp"])
	if err == nil || !strings.Contains(err.Error(), `backend "erp": line 6: the settingless kind has no settings of its own`) {
		t.Fatalf("err = %v", err)
	}
	// Without a section, the kind is made.
	bs = backendsFrom(t, "backends:\n  erp: {kind: settingless, endpoint: http://erp.internal/api}\n")
	if _, err := New(bs["erp"]); err != nil {
		t.Fatal(err)
	}
}

func TestCheckEndpoint(t *testing.T) {
	t.Parallel()
	for endpoint, want := range map[string]string{
		"":                        "endpoint is required",
		"erp.internal:8080/api":   "has no scheme",
		"/api":                    "has no scheme",
		"http:///api":             "has no host",
		"http://u:secret@%zz/api": "endpoint is not a URL",
		"http://erp.internal/api": "",
		"local:":                  "",
	} {
		err := Backend{Name: "erp", Endpoint: endpoint}.CheckEndpoint()
		switch {
		case want == "" && err != nil:
			t.Errorf("%q: %v", endpoint, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("%q: err = %v, want %q", endpoint, err, want)
		case err != nil && strings.Contains(err.Error(), "secret"):
			t.Errorf("%q: the error shows the password: %v", endpoint, err)
		}
	}
	// An HTTP kind refuses other schemes when its transport is made.
	tr := NewTransport(Backend{Name: "erp", Kind: "soap", Endpoint: "ftp://erp.internal/api"}, nil)
	if err := tr.Err(); err == nil || !strings.Contains(err.Error(), "must be an http:// or https:// URL") {
		t.Errorf("Err() = %v", err)
	}
}
