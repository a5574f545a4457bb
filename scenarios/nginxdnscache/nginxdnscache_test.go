package nginxdnscache

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/nodelab/nodelab/lab/instruments/loadprobe"
)

func TestRenderBothConfigurations(t *testing.T) {
	static, err := Render("backends.ns.svc.cluster.local", "")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(static, "proxy_pass http://backends.ns.svc.cluster.local:8080;") || strings.Contains(static, "resolver") || strings.Contains(static, "$backend") {
		t.Errorf("static configuration:\n%s", static)
	}
	fix, err := Render("backends.ns.svc.cluster.local", "10.96.0.10")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"resolver 10.96.0.10 valid=5s ipv6=off;", `set $backend "backends.ns.svc.cluster.local";`, "proxy_pass http://$backend:8080;", "proxy_connect_timeout 1s;"} {
		if !strings.Contains(fix, want) {
			t.Errorf("fix configuration lacks %q:\n%s", want, fix)
		}
	}
	if got := nginxDuration(1500 * time.Millisecond); got != "1500ms" {
		t.Errorf("nginxDuration(1.5s) = %s", got)
	}
}

// fakeDNS answers one query on a buffer, as CoreDNS does over TCP.
type fakeDNS struct {
	in, out bytes.Buffer
	ttl     uint32
	addrs   [][4]byte
}

func (f *fakeDNS) Write(b []byte) (int, error) {
	f.in.Write(b)
	if f.in.Len() < 2 || f.in.Len() < 2+int(binary.BigEndian.Uint16(f.in.Bytes())) {
		return len(b), nil
	}
	var q dnsmessage.Message
	if err := q.Unpack(f.in.Bytes()[2:]); err != nil {
		return 0, err
	}
	m := dnsmessage.Message{Header: dnsmessage.Header{ID: q.ID, Response: true}, Questions: q.Questions}
	for _, a := range f.addrs {
		m.Answers = append(m.Answers, dnsmessage.Resource{
			Header: dnsmessage.ResourceHeader{Name: q.Questions[0].Name, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET, TTL: f.ttl},
			Body:   &dnsmessage.AResource{A: a},
		})
	}
	packed, err := m.Pack()
	if err != nil {
		return 0, err
	}
	f.out.Write(binary.BigEndian.AppendUint16(nil, uint16(len(packed))))
	f.out.Write(packed)
	return len(b), nil
}

func (f *fakeDNS) Read(b []byte) (int, error) { return f.out.Read(b) }

func TestQueryA(t *testing.T) {
	f := &fakeDNS{ttl: 30, addrs: [][4]byte{{10, 244, 2, 7}, {10, 244, 1, 5}}}
	addrs, ttl, err := queryA(f, "backends.ns.svc.cluster.local")
	if err != nil {
		t.Fatal(err)
	}
	if addrList(addrs) != "[10.244.1.5 10.244.2.7]" || ttl != 30*time.Second {
		t.Errorf("queryA = %s ttl %s", addrList(addrs), ttl)
	}
}

func TestClassesAndIntersect(t *testing.T) {
	qs := []loadprobe.Request{{Outcome: loadprobe.HTTP5xx, Status: 502}, {Outcome: loadprobe.Timeout}, {Outcome: loadprobe.HTTP5xx, Status: 502}, {Outcome: loadprobe.OK, Status: 200}}
	if got := classes(qs); got != "502 ×2, timeout ×1" {
		t.Errorf("classes = %q", got)
	}
	a := []netip.Addr{netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")}
	b := []netip.Addr{netip.MustParseAddr("10.0.0.2")}
	if got := addrList(intersect(a, b)); got != "[10.0.0.2]" {
		t.Errorf("intersect = %s", got)
	}
}
