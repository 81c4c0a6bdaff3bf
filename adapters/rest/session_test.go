package rest_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"
)

// sessionAPI is an API with a JSON login (POST /login {"username", "password"}) that sets a
// session cookie, and /me, which answers 401 without a live session.
type sessionAPI struct {
	mu       sync.Mutex
	logins   int
	sessions map[string]string
}

func (s *sessionAPI) handler(password string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		var in struct{ Username, Password string }
		if r.Header.Get("Content-Type") != "application/json" || json.NewDecoder(r.Body).Decode(&in) != nil {
			http.Error(w, `{"message": "a JSON body is required"}`, http.StatusBadRequest)
			return
		}
		if in.Password != password {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"message": "wrong password ` + in.Password + ` for ` + in.Username + `"}`))
			return
		}
		s.mu.Lock()
		s.logins++
		sid := "s" + strconv.Itoa(s.logins)
		s.sessions[sid] = in.Username
		s.mu.Unlock()
		http.SetCookie(w, &http.Cookie{Name: "sid", Value: sid, Path: "/", HttpOnly: true})
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok": true}`))
	})
	mux.HandleFunc("GET /me", func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie("sid")
		s.mu.Lock()
		user, ok := "", false
		if err == nil {
			user, ok = s.sessions[c.Value]
		}
		s.mu.Unlock()
		if !ok {
			http.Error(w, `{"message": "log in first"}`, http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"user": "` + user + `"}`))
	})
	return mux
}

func sessionConfig(t *testing.T, endpoint, password, extra string) string {
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte(password), 0o600); err != nil {
		t.Fatal(err)
	}
	return `
protos: [acme/probe/v1/probe.proto]
services: [acme.probe.v1.SessionService]
backends:
  session:
    kind: rest
    endpoint: ` + endpoint + `
    breaker: {disabled: true}
    rest:
      error_message_path: message
      login:
        url: /login
        format: json
        fields: {username: bridge}
        password_field: password
        password_file: ` + pw + `
` + extra
}

// TestJSONLogin: a JSON login, its cookie sent with every call, a new login after a 401, and
// max_age.
func TestJSONLogin(t *testing.T) {
	t.Parallel()
	api := &sessionAPI{sessions: map[string]string{}}
	backend := httptest.NewServer(api.handler("pa55"))
	t.Cleanup(backend.Close)
	b := newBridge(t, sessionConfig(t, backend.URL, "pa55", ""), "acme.probe.v1.SessionService")
	if got := wantOK(t, b.callEvery(t, "WhoAmI", `{}`, rest{"GET", "/v1/me", ""})); got != `{"user":"bridge"}` {
		t.Errorf("WhoAmI: %s", got)
	}
	// The backend forgets its sessions: the next call is answered 401, the bridge logs in again
	// once and repeats it.
	api.mu.Lock()
	clear(api.sessions)
	logins := api.logins
	api.mu.Unlock()
	wantOK(t, b.callEvery(t, "WhoAmI", `{}`, rest{"GET", "/v1/me", ""}))
	api.mu.Lock()
	if api.logins != logins+1 {
		t.Errorf("%d logins after the sessions ended, want %d", api.logins, logins+1)
	}
	api.mu.Unlock()

	// max_age: a new session for every call once the old one is older.
	api2 := &sessionAPI{sessions: map[string]string{}}
	backend2 := httptest.NewServer(api2.handler("pa55"))
	t.Cleanup(backend2.Close)
	b2 := newBridge(t, sessionConfig(t, backend2.URL, "pa55", "        max_age: 1ns\n"), "acme.probe.v1.SessionService")
	wantOK(t, b2.callEvery(t, "WhoAmI", `{}`, rest{"GET", "/v1/me", ""}))
	api2.mu.Lock()
	if api2.logins != 3 {
		t.Errorf("%d logins with max_age 1ns for 3 calls, want 3", api2.logins)
	}
	api2.mu.Unlock()
}

// TestJSONLoginRefused: a refused login is FAILED_PRECONDITION with the backend's words, with
// the password redacted even where the backend repeats it.
func TestJSONLoginRefused(t *testing.T) {
	t.Parallel()
	api := &sessionAPI{sessions: map[string]string{}}
	backend := httptest.NewServer(api.handler("pa55"))
	t.Cleanup(backend.Close)
	b := newBridge(t, sessionConfig(t, backend.URL, "wrong-secret-42", "        message_path: message\n"), "acme.probe.v1.SessionService")
	g := wantErr(t, b.callEvery(t, "WhoAmI", `{}`, rest{"GET", "/v1/me", ""}), codes.FailedPrecondition)
	if g.reason != "BACKEND_REJECTED" || g.msg != "logging in: the login: backend session refused the bridge's credentials (HTTP 401); an operator must check the backend's auth config: wrong password [redacted] for bridge" {
		t.Errorf("%s %q", g.reason, g.msg)
	}
	for _, v := range values(g.meta) {
		if strings.Contains(v, "wrong-secret-42") {
			t.Errorf("metadata shows the password: %q", v)
		}
	}
}
