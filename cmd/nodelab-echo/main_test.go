package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

func TestHandler(t *testing.T) {
	for _, tc := range []struct {
		name, podIP, path string
		want              string
	}{
		{"with pod IP", "10.244.1.7", "/", "echo-7d9f 10.244.1.7 /\n"},
		{"path echoed", "10.244.1.7", "/a/b", "echo-7d9f 10.244.1.7 /a/b\n"},
		{"no pod IP", "", "/x", "echo-7d9f /x\n"},
		{"healthz", "10.244.1.7", "/healthz", "ok\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(newHandler("echo-7d9f", tc.podIP))
			defer srv.Close()
			code, body := get(t, srv.URL+tc.path)
			if code != http.StatusOK || body != tc.want {
				t.Errorf("GET %s = %d %q, want 200 %q", tc.path, code, body, tc.want)
			}
		})
	}
}

func TestHandlerRejectsOtherMethods(t *testing.T) {
	srv := httptest.NewServer(newHandler("h", ""))
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST / = %d, want 405", resp.StatusCode)
	}
}

// TestServeDrainsOnCancel: a request in flight when the signal comes still
// gets its answer, and serve returns nil (exit 0).
func TestServeDrainsOnCancel(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	started, release := make(chan struct{}), make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/slow", func(w http.ResponseWriter, _ *http.Request) {
		close(started)
		<-release
		io.WriteString(w, "done")
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- serve(ctx, &http.Server{Handler: mux}, ln) }()

	got := make(chan string, 1)
	go func() {
		resp, err := http.Get("http://" + ln.Addr().String() + "/slow")
		if err != nil {
			got <- err.Error()
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		got <- string(body)
	}()
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("the request did not reach the handler within 10s")
	}
	cancel()
	select {
	case err := <-done:
		t.Fatalf("serve returned %v before the in-flight request finished", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	if body := <-got; body != "done" {
		t.Errorf("in-flight request got %q, want done", body)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve = %v, want nil after a graceful shutdown", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not return within 10s of the drain")
	}
}
