// Package permfile keeps a door's local permissions the way the Aliyun
// community platform delivers them (spec accessctl/linkkit/PROTOCOL.md §3): the
// syncPermissions file with qrCodePermissionList, tradCardPermissionList,
// bleCardPermissionList and passwordPermissionList, each entry an add (1),
// delete (2) or modify (3).
//
// Parse reads a file with a streaming decoder and size limits; a syntax
// error rejects it whole, an invalid entry is skipped and counted. A Store
// applies a file atomically (a concurrent reader sees the old state or the
// new one), merges updates so a partial modify never loosens a limit, and
// counts QR scans through a Counter (DEVICE scope locally, SHARE scope in a
// Counter the host may back with a store shared by all its doors). Fetcher
// downloads a permissionUrl with the spec's limits and retries, and Syncer
// runs syncPermissions calls one at a time in arrival order. Store is also
// an accessctl.PermissionSync (grants in, records out), and Marshal writes
// the wire format for cloud simulators; ParseEntry reads one entry of the
// edge protocol's per-list pushes.
//
// Shortest use:
//
//	store := permfile.NewStore()
//	sync := &permfile.Syncer{Store: store, Fetcher: &permfile.Fetcher{}}
//	report, err := sync.Sync(ctx, permissionURL)
//	rec, ok := store.Lookup(accessctl.CredQRCode, "ALIF24DD9END8CD3")
//
// Package passcheck turns a store into pass decisions.
package permfile
