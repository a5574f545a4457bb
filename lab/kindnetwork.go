package lab

import "context"

// kindNetwork is the docker network kind puts every cluster on.
const kindNetwork = "kind"

// KindNetworkGuard remembers whether kind's docker network existed when it
// was made, so a caller that creates kind clusters outside lab.Up (the
// bench's bare kind create) can remove the network it caused, and only that.
type KindNetworkGuard struct{ existed bool }

// GuardKindNetwork records whether the kind network exists now.
func GuardKindNetwork(ctx context.Context) KindNetworkGuard {
	return KindNetworkGuard{existed: networkExists(ctx, kindNetwork)}
}

// Release removes the kind network if it did not exist at GuardKindNetwork
// and no container uses it now.
func (g KindNetworkGuard) Release(ctx context.Context) error {
	if g.existed {
		return nil
	}
	return removeNetworkIfEmpty(ctx, kindNetwork)
}
