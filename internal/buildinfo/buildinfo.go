// Package buildinfo says which version a binary is.
package buildinfo

import "runtime/debug"

// Version returns stamped, the version given at build time with
// -ldflags "-X main.version=..." (make build does), unless it is still
// "dev": then the module version the Go toolchain recorded, which `go
// install github.com/backupd/backupd/cmd/backupd@v1.2.3` sets to v1.2.3.
// A plain `go build` of a checkout records "(devel)", and "dev" stays.
func Version(stamped string) string {
	info, ok := debug.ReadBuildInfo()
	return choose(stamped, info, ok)
}

func choose(stamped string, info *debug.BuildInfo, ok bool) string {
	if stamped != "dev" || !ok || info == nil {
		return stamped
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	return stamped
}
