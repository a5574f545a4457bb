package loadprobe

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"net/url"
	"time"
)

// Defaults of Options.
const (
	DefaultRate              = 500
	DefaultKeepAliveFraction = 0.5
	DefaultWorkers           = 64
)

// ErrNotAllowed marks a target outside loopback and the allowed lab ranges.
var ErrNotAllowed = errors.New("not a loopback or allowed lab address")

// privateRanges are the only ranges Options.Allow may name: loopback and
// private networks, where docker and kind put the lab's addresses.
var privateRanges = []netip.Prefix{
	netip.MustParsePrefix("127.0.0.0/8"),
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.168.0.0/16"),
	netip.MustParsePrefix("::1/128"),
	netip.MustParsePrefix("fc00::/7"),
}

// Options configure a probe. Zero values take the defaults above, except
// URL and Duration, which are required.
type Options struct {
	// URL is the http:// URL to GET. Its host must be an IP literal that is
	// loopback or inside Allow; set Host for a name-based Ingress rule.
	URL string
	// Allow lists the lab's address ranges (its docker network, for
	// instance). Each must lie within a private range; loopback is always
	// allowed.
	Allow []netip.Prefix
	// Host, when set, is sent as the Host header.
	Host string
	// Rate is the request rate per second (default 500).
	Rate int
	// Duration is the hard time limit: no request starts after it.
	Duration time.Duration
	// MaxRequests is the hard count limit (default Rate × Duration).
	MaxRequests int
	// KeepAliveFraction is the share of requests sent on keep-alive
	// connections (default 0.5; 1 for all). The others open a new TCP
	// connection each; a negative value sends every request that way.
	KeepAliveFraction float64
	// Timeout bounds each request, connect to end of body (default 2s).
	Timeout time.Duration
	// Workers bounds the requests in flight (default 64).
	Workers int
	// Window is how long before a failure an event may be to explain it
	// (default 30s); see Result.Attribute.
	Window time.Duration
	// Logger receives the start and the summary at Info; nil discards.
	Logger *slog.Logger
}

// Validate reports every problem of o, with the network rule's violations
// wrapping ErrNotAllowed. It sends nothing.
func (o Options) Validate() error {
	_, err := o.withDefaults()
	return err
}

// withDefaults returns o with defaults set, or every problem found.
func (o Options) withDefaults() (Options, error) {
	var errs []error
	if _, err := target(o.URL, o.Allow); err != nil {
		errs = append(errs, err)
	}
	for _, p := range o.Allow {
		if !privatePrefix(p) {
			errs = append(errs, fmt.Errorf("allow %s: %w: allow only the lab's private ranges (such as its docker network)", p, ErrNotAllowed))
		}
	}
	switch {
	case o.Rate < 0:
		errs = append(errs, fmt.Errorf("rate %d: must be positive (0 for the default %d)", o.Rate, DefaultRate))
	case o.Rate == 0:
		o.Rate = DefaultRate
	}
	if o.Duration <= 0 {
		errs = append(errs, fmt.Errorf("duration %v: set a positive Duration so the probe stops by itself", o.Duration))
	}
	switch {
	case o.MaxRequests < 0:
		errs = append(errs, fmt.Errorf("max requests %d: must be positive (0 for Rate × Duration)", o.MaxRequests))
	case o.MaxRequests == 0:
		o.MaxRequests = max(1, int(math.Ceil(o.Duration.Seconds()*float64(o.Rate))))
	}
	switch {
	case math.IsNaN(o.KeepAliveFraction) || o.KeepAliveFraction > 1:
		errs = append(errs, fmt.Errorf("keep-alive fraction %v: must be at most 1 (negative for none)", o.KeepAliveFraction))
	case o.KeepAliveFraction == 0:
		o.KeepAliveFraction = DefaultKeepAliveFraction
	case o.KeepAliveFraction < 0:
		o.KeepAliveFraction = 0
	}
	o.Timeout = orDefault(o.Timeout, DefaultTimeout, "timeout", &errs)
	o.Window = orDefault(o.Window, DefaultWindow, "window", &errs)
	switch {
	case o.Workers < 0:
		errs = append(errs, fmt.Errorf("workers %d: must be positive (0 for the default %d)", o.Workers, DefaultWorkers))
	case o.Workers == 0:
		o.Workers = DefaultWorkers
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if err := errors.Join(errs...); err != nil {
		return o, fmt.Errorf("load probe options: %w", err)
	}
	return o, nil
}

func orDefault(d, def time.Duration, name string, errs *[]error) time.Duration {
	switch {
	case d < 0:
		*errs = append(*errs, fmt.Errorf("%s %v: must be positive (0 for the default %v)", name, d, def))
	case d == 0:
		return def
	}
	return d
}

// target parses rawURL and checks its host against the network rule.
func target(rawURL string, allow []netip.Prefix) (*url.URL, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("url: %w", err)
	}
	if u.Scheme != "http" {
		return nil, fmt.Errorf("url %q: scheme %q: use http://", rawURL, u.Scheme)
	}
	addr, err := netip.ParseAddr(u.Hostname())
	if err != nil {
		return nil, fmt.Errorf("url %q: host %q is not an IP address: %w: use the lab's address (127.0.0.1 for a local listener) and set Host for a name", rawURL, u.Hostname(), ErrNotAllowed)
	}
	if !allowed(addr, allow) {
		return nil, fmt.Errorf("url %q: %s: %w: the probe targets only loopback or the lab's ranges in Allow", rawURL, addr, ErrNotAllowed)
	}
	return u, nil
}

// privatePrefix reports whether p lies within one of privateRanges.
func privatePrefix(p netip.Prefix) bool {
	if !p.IsValid() {
		return false
	}
	p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-unmapBits(p.Addr())).Masked()
	for _, r := range privateRanges {
		if p.Bits() >= r.Bits() && r.Contains(p.Addr()) {
			return true
		}
	}
	return false
}

// unmapBits is what an IPv4-mapped prefix loses when unmapped.
func unmapBits(a netip.Addr) int {
	if a.Is4In6() {
		return 96
	}
	return 0
}

// allowed reports whether addr is loopback or inside a private prefix of allow.
func allowed(addr netip.Addr, allow []netip.Prefix) bool {
	addr = addr.Unmap()
	if addr.IsLoopback() {
		return true
	}
	for _, p := range allow {
		if privatePrefix(p) && p.Contains(addr) {
			return true
		}
	}
	return false
}

// dialFunc is the shape of net.Dialer.DialContext.
type dialFunc func(ctx context.Context, network, address string) (net.Conn, error)

// guardDial refuses, before dialing, any address outside the network rule.
func guardDial(allow []netip.Prefix, dial dialFunc) dialFunc {
	return func(ctx context.Context, network, address string) (net.Conn, error) {
		ap, err := netip.ParseAddrPort(address)
		if err != nil || !allowed(ap.Addr(), allow) {
			return nil, fmt.Errorf("dial %s: %w", address, ErrNotAllowed)
		}
		return dial(ctx, network, address)
	}
}
