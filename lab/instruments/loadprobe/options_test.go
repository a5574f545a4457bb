package loadprobe

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	lab := []netip.Prefix{netip.MustParsePrefix("172.18.0.0/16")}
	for _, tc := range []struct {
		name       string
		o          Options
		notAllowed bool     // the error wraps ErrNotAllowed
		want       []string // substrings of the error; none: valid
	}{
		{name: "loopback", o: Options{URL: "http://127.0.0.1:8080/", Duration: time.Second}},
		{name: "loopback v6", o: Options{URL: "http://[::1]:8080/", Duration: time.Second}},
		{name: "lab address in allow", o: Options{URL: "http://172.18.0.3:30080/", Allow: lab, Duration: time.Second}},
		{name: "public address", o: Options{URL: "http://8.8.8.8/", Duration: time.Second},
			notAllowed: true, want: []string{"8.8.8.8"}},
		{name: "public address in allow", o: Options{URL: "http://8.8.8.8/", Duration: time.Second,
			Allow: []netip.Prefix{netip.MustParsePrefix("8.8.8.0/24")}}, notAllowed: true, want: []string{"allow 8.8.8.0/24"}},
		{name: "allow wider than a private range", o: Options{URL: "http://11.0.0.1/", Duration: time.Second,
			Allow: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/7")}}, notAllowed: true, want: []string{"allow 10.0.0.0/7", "11.0.0.1"}},
		{name: "lab address without allow", o: Options{URL: "http://172.18.0.3/", Duration: time.Second},
			notAllowed: true, want: []string{"172.18.0.3"}},
		{name: "host name", o: Options{URL: "http://localhost:8080/", Duration: time.Second},
			notAllowed: true, want: []string{"not an IP address", "set Host"}},
		{name: "unspecified", o: Options{URL: "http://0.0.0.0:8080/", Duration: time.Second}, notAllowed: true},
		{name: "https", o: Options{URL: "https://127.0.0.1/", Duration: time.Second}, want: []string{"use http://"}},
		{name: "no duration", o: Options{URL: "http://127.0.0.1/"}, want: []string{"Duration"}},
		{name: "every problem", o: Options{URL: "http://127.0.0.1/", Rate: -1, Duration: -1, MaxRequests: -1,
			KeepAliveFraction: 1.5, Timeout: -1, Workers: -1, Window: -1},
			want: []string{"rate -1", "duration -1ns", "max requests -1", "keep-alive fraction 1.5", "timeout -1ns", "workers -1", "window -1ns"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.o.Validate()
			if len(tc.want) == 0 && !tc.notAllowed {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate accepted it")
			}
			if errors.Is(err, ErrNotAllowed) != tc.notAllowed {
				t.Errorf("errors.Is(%v, ErrNotAllowed) = %v, want %v", err, !tc.notAllowed, tc.notAllowed)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	o, err := Options{URL: "http://127.0.0.1/", Duration: 2 * time.Second}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if o.Rate != 500 || o.MaxRequests != 1000 || o.KeepAliveFraction != 0.5 || o.Timeout != 2*time.Second ||
		o.Workers != DefaultWorkers || o.Window != 30*time.Second || o.Logger == nil {
		t.Errorf("defaults = %+v", o)
	}
	o, _ = Options{URL: "http://127.0.0.1/", Duration: time.Second, KeepAliveFraction: -1}.withDefaults()
	if o.KeepAliveFraction != 0 {
		t.Errorf("keep-alive fraction -1 became %v, want 0", o.KeepAliveFraction)
	}
}

func TestRunRefusesPublicAddressWithoutSending(t *testing.T) {
	begin := time.Now()
	r, err := Run(t.Context(), Options{URL: "http://8.8.8.8:80/", Rate: 100, Duration: time.Second})
	if r != nil || !errors.Is(err, ErrNotAllowed) {
		t.Fatalf("Run = %v, %v; want no result and ErrNotAllowed", r, err)
	}
	if d := time.Since(begin); d > 50*time.Millisecond {
		t.Errorf("refusal took %v: it must come before any network use", d)
	}
}

func TestGuardDial(t *testing.T) {
	lab := []netip.Prefix{netip.MustParsePrefix("172.18.0.0/16")}
	var dialed []string
	dial := guardDial(lab, func(_ context.Context, _, address string) (net.Conn, error) {
		dialed = append(dialed, address)
		return nil, errors.New("fake dialer")
	})
	for _, addr := range []string{"8.8.8.8:80", "[2001:4860:4860::8888]:80", "example.com:80", "172.19.0.2:80", "[::ffff:8.8.8.8]:80"} {
		if _, err := dial(t.Context(), "tcp", addr); !errors.Is(err, ErrNotAllowed) {
			t.Errorf("dial %s: %v, want ErrNotAllowed", addr, err)
		}
	}
	for _, addr := range []string{"127.0.0.1:80", "[::1]:80", "172.18.0.2:80", "[::ffff:127.0.0.1]:80"} {
		if _, err := dial(t.Context(), "tcp", addr); errors.Is(err, ErrNotAllowed) {
			t.Errorf("dial %s: %v, want it dialed", addr, err)
		}
	}
	if len(dialed) != 4 {
		t.Errorf("dialed %v, want only the 4 allowed addresses", dialed)
	}
}

func TestKeepAliveSpread(t *testing.T) {
	for _, tc := range []struct {
		fraction float64
		want     string // k: keep-alive, n: new, for requests 0..7
	}{
		{0, "nnnnnnnn"},
		{0.5, "nknknknk"},
		{0.25, "nnnknnnk"},
		{1, "kkkkkkkk"},
	} {
		var got strings.Builder
		for i := range 8 {
			if keepAlive(i, tc.fraction) {
				got.WriteByte('k')
			} else {
				got.WriteByte('n')
			}
		}
		if got.String() != tc.want {
			t.Errorf("fraction %v: %s, want %s", tc.fraction, got.String(), tc.want)
		}
	}
}
