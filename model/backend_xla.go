//go:build xla

package model

// The XLA (PJRT) backend, linked only with `-tags xla` because it needs cgo. Only the backend package
// is imported, never github.com/gomlx/go-xla/compute/xla/autoinstall: steer never downloads plugins
// (and NewBackend sets GOMLX_NO_AUTO_INSTALL=1 before creating an XLA backend).
import _ "github.com/gomlx/go-xla/compute/xla"

func init() { xlaAvailable = true }
