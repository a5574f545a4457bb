package forge

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/nodelab/nodelab/lab/images"
)

// binNetpol is kube-network-policies' binary name in CacheDir/bin.
const binNetpol = "netpol"

// netpolPkg is its main package, relative to the module root.
const netpolPkg = "./cmd"

// netpolQueueBlock is how upstream asks for its nfqueue verdicts: a native
// nft `queue` expression (nft_queue).
const netpolQueueBlock = `	queue := &expr.Queue{Num: uint16(c.config.QueueID)}
	if c.config.FailOpen {
		queue.Flag = expr.QueueFlagBypass
	}
`

// netpolXTQueue replaces it.
const netpolXTQueue = `	queue := xtNFQueue(uint16(c.config.QueueID), c.config.FailOpen) // nodelab forge: netpolPatches
`

// netpolPatches make kube-network-policies enforce on kernels without
// nft_queue (CONFIG_NFT_QUEUE unset, as on the workplace's hosts, where
// upstream's ruleset is refused as a whole and, the error being ignored,
// nothing is enforced): every `queue` expression becomes the xt NFQUEUE
// target through nft_compat (CONFIG_NFT_COMPAT and
// CONFIG_NETFILTER_XT_TARGET_NFQUEUE), which nft lists as the same
// `queue num N [bypass]` and hands packets to the same nfnetlink_queue
// (docs/research/multus-offline.md §4). Anchored on the rule before each
// site, so each patch applies exactly once or fails loudly.
var netpolPatches = []sourcePatch{
	{"pkg/networkpolicy/controller.go",
		"\t\"github.com/google/nftables/expr\"\n",
		"\t\"github.com/google/nftables/expr\"\n\t\"github.com/google/nftables/xt\" // nodelab forge: netpolPatches\n"},
	{"pkg/networkpolicy/controller.go",
		"\t\t\t&expr.Cmp{Op: expr.CmpOpNeq, Register: 0x1, Data: []byte{0x0, 0x0, 0x0, 0x0}},\n\t\t\t&expr.Verdict{Kind: expr.VerdictAccept},\n\t\t},\n\t})\n\n" + netpolQueueBlock,
		"\t\t\t&expr.Cmp{Op: expr.CmpOpNeq, Register: 0x1, Data: []byte{0x0, 0x0, 0x0, 0x0}},\n\t\t\t&expr.Verdict{Kind: expr.VerdictAccept},\n\t\t},\n\t})\n\n" + netpolXTQueue},
	{"pkg/networkpolicy/controller.go",
		"\t\t\t&expr.Cmp{Op: expr.CmpOpNeq, Register: 0x1, Data: binaryutil.BigEndian.PutUint16(53)},\n\t\t\t&expr.Verdict{Kind: expr.VerdictAccept},\n\t\t},\n\t})\n\n" + netpolQueueBlock,
		"\t\t\t&expr.Cmp{Op: expr.CmpOpNeq, Register: 0x1, Data: binaryutil.BigEndian.PutUint16(53)},\n\t\t\t&expr.Verdict{Kind: expr.VerdictAccept},\n\t\t},\n\t})\n\n" + netpolXTQueue},
	{"pkg/networkpolicy/dnsagent.go",
		"\t\t\t&expr.Queue{Num: uint16(n.nfQueueID), Flag: expr.QueueFlagBypass},\n",
		"\t\t\txtNFQueue(uint16(n.nfQueueID), true), // nodelab forge: netpolPatches\n"},
	{"pkg/networkpolicy/controller.go",
		"\nfunc (c *Controller) syncNFTablesRules(",
		"\n" + netpolXTQueueFunc + "\nfunc (c *Controller) syncNFTablesRules("},
}

// netpolXTQueueFunc builds the xt NFQUEUE target: struct
// xt_NFQ_info_v3 {u16 queuenum; u16 queues_total; u16 flags}, in host
// byte order; flag NFQ_FLAG_BYPASS (1) accepts packets when no program
// listens, as the queue expression's bypass flag does.
const netpolXTQueueFunc = `// xtNFQueue is the xt NFQUEUE target (revision 3) for queue num, through
// nft_compat: added by nodelab's forge for kernels without nft_queue.
func xtNFQueue(num uint16, bypass bool) *expr.Target {
	var flags uint16
	if bypass {
		flags |= 0x1 // NFQ_FLAG_BYPASS
	}
	info := xt.Unknown(append(append(binaryutil.NativeEndian.PutUint16(num), binaryutil.NativeEndian.PutUint16(1)...), binaryutil.NativeEndian.PutUint16(flags)...))
	return &expr.Target{Name: "NFQUEUE", Rev: 3, Info: &info}
}
`

// netpolRecipe builds the patched netpol statically (CGO_ENABLED=0, as
// upstream's Dockerfile does) as the main module, from a copy of the
// module source.
func (b *goBuilder) netpolRecipe() goRecipe {
	v := images.NetworkPoliciesVersion
	src := filepath.Join(b.srcDir, "kube-network-policies")
	var mod *moduleInfo
	return goRecipe{
		name:    "go-kube-network-policies",
		title:   "Building kube-network-policies " + v + " (xt NFQUEUE)",
		outputs: []output{{from: "cmd", name: binNetpol}},
		inputs: func(ctx context.Context) ([]string, error) {
			m, err := b.module(ctx, images.NetworkPoliciesModule, v)
			if err != nil {
				return nil, err
			}
			mod = m
			return []string{m.Sum, "-s -w", netpolPkg, fmt.Sprintf("%q", netpolPatches)}, nil
		},
		prepare: func(ctx context.Context, log io.Writer) error {
			if err := copyModule(mod.Dir, src, mod.Sum, "tests", "docs", "charts"); err != nil {
				return fmt.Errorf("copy %s: %w", images.NetworkPoliciesModule, err)
			}
			if err := applyPatches(src, netpolPatches); err != nil {
				return err
			}
			return b.prefetch(ctx, log, src, goTags, netpolPkg)
		},
		build: func(ctx context.Context, log io.Writer, tmp string) error {
			return b.goBuild(ctx, log, src, "-s -w", tmp, netpolPkg)
		},
	}
}

// netpolBins puts the binary where upstream's image has it.
var netpolBins = []binFile{{binNetpol, "/bin/netpol"}}

// netpolConfig: upstream's DaemonSet gives the command in args.
var netpolConfig = v1.Config{WorkingDir: "/"}

// netpolImageRecipe: the static binary on the skeleton and busybox; it
// talks netlink itself (no nft or iptables binary).
func netpolImageRecipe(ctx context.Context, f *Forge, img images.Image) ([]stepSpec, error) {
	return goImageSteps(ctx, f, img, (*goBuilder).netpolRecipe, netpolBins, netpolConfig)
}
