package rest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/dynamicpb"
)

const wikiPassword = "bot-pass-7f3a9c"

// startWiki runs the MediaWiki-like peer (testdata/mediawiki/api.py, Python's standard library
// only) with the bot's password.
func startWiki(t *testing.T) string {
	t.Helper()
	script, _ := filepath.Abs("testdata/mediawiki/api.py")
	t.Setenv("WIKI_BOT_PASSWORD", wikiPassword) // inherited by the peer only; the bridge reads a file
	return startPeer(t, "python3", "install Python 3.10 or later", script)
}

// wikiConfig logs in with the password in a file.
func wikiConfig(t *testing.T, endpoint, password string) string {
	t.Helper()
	pw := filepath.Join(t.TempDir(), "wiki-password")
	if err := os.WriteFile(pw, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return `
protos: [acme/wiki/v1/wiki.proto]
services: [acme.wiki.v1.WikiService]
backends:
  wiki:
    kind: rest
    endpoint: ` + endpoint + `
    timeout: 10s
    breaker: {disabled: true}
    retry: {max_attempts: 1}
    faults:
      - {fault_code: assertuserfailed, status: FAILED_PRECONDITION, reason: WIKI_NOT_LOGGED_IN, hint: "The bridge is not logged in to the wiki; an operator must configure rest.login."}
    rest:
      body_error: {path: api.error.-code, message_path: api.error.-info}
      login:
        token: {url: "/w/api.php?action=query&meta=tokens&type=login&format=xml", path: api.query.tokens.-logintoken, field: lgtoken}
        url: /w/api.php
        fields: {action: login, format: xml, lgname: Bridgebot@agentbridge}
        password_field: lgpassword
        password_file: ` + pw + `
        success: {path: api.login.-result, value: Success}
        message_path: api.login.-reason
        expired_codes: [assertuserfailed]
`
}

func wikiStats(t *testing.T, endpoint string) int {
	t.Helper()
	resp, err := http.Get(endpoint + "/_test/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s struct{ Logins int }
	data, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	return s.Logins
}

// TestMediaWiki: a legacy-style REST API (the MediaWiki Action API: form POSTs, XML replies,
// errors in 200 replies, a cookie session opened with a login token) through the bridge, the
// same on every surface, with one login shared by all of them.
func TestMediaWiki(t *testing.T) {
	wiki := startWiki(t)
	b := newBridge(t, wikiConfig(t, wiki, wikiPassword), "acme.wiki.v1.WikiService")

	got := wantOK(t, b.callEvery(t, "GetPageInfo", `{"titles": "cordless_drill"}`, rest{"GET", "/v1/pages/cordless_drill", ""}))
	if want := `{"last_rev_id":"99","length":"830","page_id":"2","title":"Cordless drill"}`; got != want {
		t.Errorf("GetPageInfo: %s\nwant %s", got, want)
	}
	got = wantOK(t, b.callEvery(t, "GetPageInfo", `{"titles": "Nope"}`, rest{"GET", "/v1/pages/Nope", ""}))
	if want := `{"missing":true,"title":"Nope"}`; got != want {
		t.Errorf("GetPageInfo of a missing page: %s\nwant %s", got, want)
	}

	// Walk the titles two at a time: MediaWiki's continuation (apcontinue) as page tokens.
	var titles []string
	token := ""
	for range 10 {
		g := same(t, b.callEvery(t, "ListPages", `{"page_size": 2, "page_token": "`+token+`"}`, rest{"GET", "/v1/pages?page_size=2&page_token=" + token, ""}))
		if g.code != codes.OK {
			t.Fatalf("ListPages: %v %s", g.code, g.msg)
		}
		m := g.resp.(*dynamicpb.Message)
		l := m.Get(m.Descriptor().Fields().ByName("titles")).List()
		for i := range l.Len() {
			titles = append(titles, l.Get(i).String())
		}
		if token = m.Get(m.Descriptor().Fields().ByName("next_page_token")).String(); token == "" {
			break
		}
	}
	if got := strings.Join(titles, "|"); got != "Circular saw|Claw hammer|Cordless drill|Garden hose|Main Page" {
		t.Errorf("titles %s", got)
	}

	// An error in a 200 reply, mapped by the method's fault rule.
	bad := wantErr(t, b.callEvery(t, "ListPages", `{"namespace": 99}`, rest{"GET", "/v1/pages?namespace=99", ""}), codes.InvalidArgument)
	if bad.reason != "WIKI_BAD_VALUE" || bad.meta["fault_code"] != "badvalue" || !strings.Contains(bad.msg, `Unrecognized value for parameter "apnamespace": 99.`) {
		t.Errorf("namespace 99: %s %v %q", bad.reason, bad.meta, bad.msg)
	}
	if n := wikiStats(t, wiki); n != 1 {
		t.Errorf("%d logins, want 1 shared by every call", n)
	}

	// The wiki ends its sessions: the next call is answered assertuserfailed, and the bridge
	// logs in again once and repeats it.
	resp, err := http.Post(wiki+"/_test/expire", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	got = wantOK(t, b.callEvery(t, "GetPageInfo", `{"titles": "Main_Page"}`, rest{"GET", "/v1/pages/Main_Page", ""}))
	if !strings.Contains(got, `"page_id":"1"`) {
		t.Errorf("after the session ended: %s", got)
	}
	if n := wikiStats(t, wiki); n != 2 {
		t.Errorf("%d logins, want 2: one more after the session ended", n)
	}
}

// TestMediaWikiConcurrentLogin: calls that find no session wait for one login together.
func TestMediaWikiConcurrentLogin(t *testing.T) {
	wiki := startWiki(t)
	b := newBridge(t, wikiConfig(t, wiki, wikiPassword), "acme.wiki.v1.WikiService")
	md := b.desc.Methods().ByName("GetPageInfo")
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() {
			out := dynamicpb.NewMessage(md.Output())
			errs <- b.cc.Invoke(t.Context(), "/acme.wiki.v1.WikiService/GetPageInfo", newMessage(t, md.Input(), `{"titles": "Claw hammer"}`), out)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if n := wikiStats(t, wiki); n != 1 {
		t.Errorf("%d logins for 16 concurrent calls, want 1", n)
	}
}

// TestMediaWikiWrongPassword: a refused login is a clear status naming the wiki's reason, and
// never shows the password.
func TestMediaWikiWrongPassword(t *testing.T) {
	wiki := startWiki(t)
	const wrong = "not-the-password-91"
	b := newBridge(t, wikiConfig(t, wiki, wrong), "acme.wiki.v1.WikiService")
	g := wantErr(t, b.callEvery(t, "GetPageInfo", `{"titles": "Main Page"}`, rest{"GET", "/v1/pages/Main%20Page", ""}), codes.FailedPrecondition)
	if g.reason != "BACKEND_REJECTED" || !strings.Contains(g.msg, "Incorrect username or password entered") {
		t.Errorf("%s %q", g.reason, g.msg)
	}
	for _, s := range append([]string{g.msg}, values(g.meta)...) {
		if strings.Contains(s, wrong) || strings.Contains(s, wikiPassword) {
			t.Errorf("the password is in the status: %q", s)
		}
	}
}

// TestMediaWikiWithoutLogin: without a login the wiki refuses the call (assert=user); the
// backend's fault rule from the config maps the error it puts in the 200 reply.
func TestMediaWikiWithoutLogin(t *testing.T) {
	wiki := startWiki(t)
	cfg := wikiConfig(t, wiki, wikiPassword)
	cfg = cfg[:strings.Index(cfg, "      login:")]
	b := newBridge(t, cfg, "acme.wiki.v1.WikiService")
	g := wantErr(t, b.callEvery(t, "GetPageInfo", `{"titles": "Main Page"}`, rest{"GET", "/v1/pages/Main%20Page", ""}), codes.FailedPrecondition)
	if g.reason != "WIKI_NOT_LOGGED_IN" || g.meta["fault_rule"] != "backend:wiki:0" || g.meta["fault_code"] != "assertuserfailed" ||
		g.msg != "backend wiki rejected the request: You are no longer logged in, so the action could not be completed. The bridge is not logged in to the wiki; an operator must configure rest.login." {
		t.Errorf("%s %v %q", g.reason, g.meta, g.msg)
	}
}

func values(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}
