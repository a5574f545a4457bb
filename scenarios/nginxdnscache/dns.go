package nginxdnscache

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"golang.org/x/net/dns/dnsmessage"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nodelab/nodelab/lab/instruments/portforward"
)

// dnsAnswer is what one CoreDNS pod answered for the backends' name.
type dnsAnswer struct {
	Pod   string
	Addrs []netip.Addr
	// TTL is the answer's TTL: the full record TTL on a cache miss, less
	// when CoreDNS's cache answered.
	TTL time.Duration
}

func (a dnsAnswer) String() string {
	var s []string
	for _, ip := range a.Addrs {
		s = append(s, ip.String())
	}
	return fmt.Sprintf("%s: [%s] ttl %s", a.Pod, strings.Join(s, " "), a.TTL)
}

// askCoreDNS asks every CoreDNS pod (kube-system, k8s-app=kube-dns) for
// name's A records, over DNS on TCP through a port-forward to its port 53:
// what each answers nginx, cache included, since nginx's resolver reaches
// one of them through the kube-dns Service.
func (r *Runbook) askCoreDNS(ctx context.Context, name string) ([]dnsAnswer, error) {
	pods, err := r.Lab.Client.CoreV1().Pods("kube-system").List(ctx, metav1.ListOptions{LabelSelector: "k8s-app=kube-dns"})
	if err != nil {
		return nil, fmt.Errorf("list the CoreDNS pods: %w", err)
	}
	if len(pods.Items) == 0 {
		return nil, fmt.Errorf("no CoreDNS pod (kube-system, k8s-app=kube-dns)")
	}
	var answers []dnsAnswer
	for _, p := range pods.Items {
		a, err := r.askPod(ctx, p.Name, name)
		if err != nil {
			return nil, err
		}
		answers = append(answers, a)
	}
	return answers, nil
}

func (r *Runbook) askPod(ctx context.Context, pod, name string) (dnsAnswer, error) {
	fw, err := portforward.Start(ctx, r.Lab.Config, "kube-system", pod, dnsPort)
	if err != nil {
		return dnsAnswer{}, err
	}
	defer fw.Close()
	ctx, cancel := context.WithTimeout(ctx, dnsTimeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", fw.Addr())
	if err != nil {
		return dnsAnswer{}, fmt.Errorf("ask CoreDNS pod %s: %w", pod, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	addrs, ttl, err := queryA(conn, name)
	if err != nil {
		return dnsAnswer{}, fmt.Errorf("ask CoreDNS pod %s for %s: %w", pod, name, err)
	}
	return dnsAnswer{Pod: pod, Addrs: addrs, TTL: ttl}, nil
}

// queryA sends one A query for name on a DNS-over-TCP connection (RFC
// 1035 §4.2.2: a two-byte length before each message) and returns the
// answer's addresses, sorted, and their smallest TTL.
func queryA(conn io.ReadWriter, name string) ([]netip.Addr, time.Duration, error) {
	n, err := dnsmessage.NewName(strings.TrimSuffix(name, ".") + ".")
	if err != nil {
		return nil, 0, err
	}
	q := dnsmessage.Message{
		Header:    dnsmessage.Header{ID: uint16(time.Now().UnixNano()), RecursionDesired: true},
		Questions: []dnsmessage.Question{{Name: n, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET}},
	}
	msg, err := q.Pack()
	if err != nil {
		return nil, 0, err
	}
	if _, err := conn.Write(binary.BigEndian.AppendUint16(nil, uint16(len(msg)))); err != nil {
		return nil, 0, err
	}
	if _, err := conn.Write(msg); err != nil {
		return nil, 0, err
	}
	var size [2]byte
	if _, err := io.ReadFull(conn, size[:]); err != nil {
		return nil, 0, fmt.Errorf("read the answer's length: %w", err)
	}
	buf := make([]byte, binary.BigEndian.Uint16(size[:]))
	if _, err := io.ReadFull(conn, buf); err != nil {
		return nil, 0, fmt.Errorf("read the answer: %w", err)
	}
	var m dnsmessage.Message
	if err := m.Unpack(buf); err != nil {
		return nil, 0, fmt.Errorf("decode the answer: %w", err)
	}
	if m.ID != q.ID {
		return nil, 0, fmt.Errorf("answer ID %d for query %d", m.ID, q.ID)
	}
	if m.RCode != dnsmessage.RCodeSuccess {
		return nil, 0, fmt.Errorf("answer code %s", m.RCode)
	}
	var addrs []netip.Addr
	var ttl uint32
	for _, a := range m.Answers {
		rec, ok := a.Body.(*dnsmessage.AResource)
		if !ok {
			continue
		}
		addrs = append(addrs, netip.AddrFrom4(rec.A))
		if ttl == 0 || a.Header.TTL < ttl {
			ttl = a.Header.TTL
		}
	}
	slices.SortFunc(addrs, func(a, b netip.Addr) int { return a.Compare(b) })
	return addrs, time.Duration(ttl) * time.Second, nil
}
