package nlb

import "net/netip"

// flowHash hashes a TCP flow by protocol, source and destination address and
// port, so that every connection gets its own, stable choice of target. AWS
// documents a flow hash over the same fields plus the TCP sequence number;
// a proxy that terminates TCP has no use for the latter.
func flowHash(src, dst netip.AddrPort) uint64 {
	const prime = 1099511628211
	h := uint64(14695981039346656037) // FNV-1a offset basis
	add := func(b byte) { h = (h ^ uint64(b)) * prime }
	add(6) // IPPROTO_TCP
	for _, a := range [2]netip.AddrPort{src, dst} {
		for _, b := range a.Addr().Unmap().As16() {
			add(b)
		}
		add(byte(a.Port() >> 8))
		add(byte(a.Port()))
	}
	// splitmix64 finalizer: FNV's low bits alone spread poorly over small moduli.
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return h
}

// pick maps a flow hash onto one of n candidates.
func pick(h uint64, n int) int { return int(h % uint64(n)) }
