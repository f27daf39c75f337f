// Package hforacle wraps Hugging Face's own Rust tokenizers library (through the C ABI of
// github.com/daulet/tokenizers) so that it can serve as an optional tokenizer backend and as a
// live oracle for the pure-Go package github.com/steer-dev/steer/tokenizer.
//
// Everything but this file is behind the build tag `hftokenizers`, because it links the
// native static library libtokenizers.a built from Rust. Without the tag the package is
// empty and `go build ./...` / `go vet ./...` need no native code. To use it:
//
//	LIBDIR=$(scripts/build-libtokenizers.sh)   # cargo build, cached per version
//	CGO_ENABLED=1 CGO_LDFLAGS="-L$LIBDIR" go test -tags hftokenizers ./tokenizer/hforacle/
//
// The daulet/tokenizers package links with `#cgo LDFLAGS: -ltokenizers -ldl -lm -lstdc++`, so
// only the library's directory has to be supplied with -L.
//
// Token ids are exactly those of the Rust crate's Tokenizer::encode(text, add_special_tokens),
// which is what `tokenizers.Tokenizer.encode(text, add_special_tokens=...)` and transformers'
// fast tokenizers return. One limitation comes from the C ABI: text crosses it as a
// NUL-terminated C string, so text containing a NUL byte cannot be encoded faithfully; see
// CanEncode.
package hforacle
