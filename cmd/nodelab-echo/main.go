// Command nodelab-echo is the ingress-rollout scenario's backend: a tiny
// HTTP server that names the pod answering, so a client can tell which
// replica served each request during a rollout, and that drains in-flight
// requests on SIGTERM as a well-behaved backend does.
//
//	GET /         200 "<hostname> <POD_IP> <path>\n" (POD_IP omitted when unset)
//	GET /healthz  200 "ok\n"
//
// It is built by the offline forge into nodelab.local/echo:v1 (there is no
// upstream image).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// shutdownTimeout bounds the drain on SIGTERM. It equals Kubernetes'
// default terminationGracePeriodSeconds, so a pod that adds a preStop delay
// and wants the whole drain must raise its grace period above both.
const shutdownTimeout = 30 * time.Second

func main() {
	listen := flag.String("listen", ":8080", "address to listen on")
	flag.Parse()
	if err := run(*listen); err != nil {
		log.Fatalf("nodelab-echo: %v", err)
	}
}

func run(addr string) error {
	host, err := os.Hostname()
	if err != nil {
		return fmt.Errorf("hostname: %w", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: newHandler(host, os.Getenv("POD_IP")), ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	return serve(ctx, srv, ln)
}

// serve runs srv on ln until ctx ends, then shuts it down gracefully within
// shutdownTimeout: idle connections close at once, in-flight requests finish.
func serve(ctx context.Context, srv *http.Server, ln net.Listener) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Printf("nodelab-echo: listening on %s", ln.Addr())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Printf("nodelab-echo: signal received, shutting down (at most %s)", shutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// newHandler answers / with the serving pod's identity and /healthz with ok.
func newHandler(host, podIP string) http.Handler {
	id := strings.Join(strings.Fields(host+" "+podIP), " ")
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "%s %s\n", id, r.URL.Path)
	})
	return mux
}
