package nlb

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"testing"
	"time"
)

// benchChildEnv makes the test binary run one NLB for the HAProxy
// comparison instead of the tests, so that the NLB, like HAProxy, has a
// process of its own. Its value is the target address.
const benchChildEnv = "NODELAB_NLB_BENCH_CHILD_TARGET"

func TestMain(m *testing.M) {
	if target := os.Getenv(benchChildEnv); target != "" {
		if err := runBenchChild(target); err != nil {
			fmt.Fprintln(os.Stderr, "nlb bench child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runBenchChild serves one healthy target on 127.0.0.1, prints
// "LISTEN <addr>" once the target gets flows, and stops when stdin closes.
func runBenchChild(target string) error {
	addr, err := netip.ParseAddrPort(target)
	if err != nil {
		return fmt.Errorf("target: %w", err)
	}
	cfg := AWSDefaults()
	cfg.TargetType = TargetTypeIP
	cfg.RegistrationPropagation = 0
	cfg.HealthCheck.Interval = time.Second
	cfg.HealthCheck.HealthyThreshold = 1
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute) // outlives no parent
	defer cancel()
	n, err := Start(ctx, cfg)
	if err != nil {
		return err
	}
	defer func() { _ = n.Close() }()
	if err := n.Register(Target{Addr: addr, Name: "backend"}); err != nil {
		return err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if s, _ := n.Snapshot().Target(addr); s.State == StateHealthy {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("target %s not healthy after 30 s", addr)
		}
		time.Sleep(10 * time.Millisecond) // polling the target's state
	}
	fmt.Printf("LISTEN %s\n", n.Addr())
	_, _ = io.Copy(io.Discard, bufio.NewReader(os.Stdin))
	return nil
}
