package memorypressure

// The memory sizes the runbook's order assertions rest on;
// TestSizesGiveTheAssertedOrder pins their relations.
const (
	// Headroom is how much memory may be used on the worker after tuning
	// before the kubelet evicts (e2e_node's PriorityMemoryEvictionOrdering
	// uses 600Mi).
	Headroom = 768 << 20
	// HogStress is what StressChaos makes the hog use: Headroom plus a
	// margin, so the threshold is crossed while it runs and not after.
	HogStress = Headroom + 384<<20
	// HogBaseStress is the hog's first step in the fix: over its 64Mi
	// request, with OverRequestStress still well below Headroom (the pods
	// themselves, their shims and chaos-daemon take ~100-150 MiB of it;
	// with 512Mi of headroom and 256 MiB here the first CI run crossed the
	// threshold one step early).
	HogBaseStress = 192 << 20
	// OverRequestStress makes the over-request pod use ~128 MiB more than
	// its 32Mi request: ranked before the BestEffort pod (~8 MiB over 0),
	// and far below Headroom alone, so injecting it first triggers nothing.
	OverRequestStress = 160 << 20
	// NeedBytes is the free memory the scenario needs on the host and the
	// worker: both stressors and 2 GiB for everything else.
	NeedBytes = HogStress + OverRequestStress + 2<<30
)
