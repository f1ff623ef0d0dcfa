package store

import (
	"crypto/hmac"
	"crypto/sha256"
	"hash"
	"sort"
	"sync"
)

// KeySize is the length of a store key: the first 128 bits of an HMAC.
const KeySize = 16

// Key is the store key of a vendor call (see Keyer).
type Key [KeySize]byte

// Keyer makes store keys: HMAC-SHA256 with the identity secret over the
// product and the call's parameters in name order, cut to 128 bits. A key
// leaves out the parameters that do not change the reply (the
// authorization ones), so that the same applicant under another
// authorization finds the same reply. The keys are the store's format: a
// change here makes every stored reply unreachable, and paid for again.
// A Keyer is safe for concurrent use.
type Keyer struct {
	secret   []byte
	leaveOut func(name string) bool
	macs     sync.Pool // of *keyMAC
}

// NewKeyer returns a Keyer for secret; leaveOut, when not nil, names the
// parameters a key leaves out.
func NewKeyer(secret []byte, leaveOut func(name string) bool) *Keyer {
	if leaveOut == nil {
		leaveOut = func(string) bool { return false }
	}
	return &Keyer{secret: secret, leaveOut: leaveOut}
}

// Key returns the store key of a call of product with params.
func (k *Keyer) Key(product string, params map[string]string) Key {
	mk, _ := k.macs.Get().(*keyMAC)
	if mk == nil {
		mk = &keyMAC{mac: hmac.New(sha256.New, k.secret)}
	}
	b, ok := mk.input(product, params)
	if !ok {
		if mk.names == nil {
			mk.names = map[string]paramNames{}
		}
		mk.names[product] = k.keyNames(params)
		b, _ = mk.input(product, params)
	}
	mk.mac.Reset()
	mk.mac.Write(b)
	var key Key
	copy(key[:], mk.mac.Sum(b[:0]))
	mk.buf = b[:0]
	k.macs.Put(mk)
	return key
}

// keyMAC is an HMAC keyed with the identity secret, the memory Key writes
// its input in, and the parameter names of the last call it keyed for
// each product.
type keyMAC struct {
	mac   hash.Hash
	buf   []byte
	names map[string]paramNames // by product
}

// paramNames are the names of a call's parameters: those a store key is
// made of, in order, and those it leaves out. The calls of a run carry the
// same names from one row to the next, so they are sorted once, not for
// every call.
type paramNames struct {
	keyed, left []string
}

func (k *Keyer) keyNames(params map[string]string) paramNames {
	var ns paramNames
	for n := range params {
		if k.leaveOut(n) {
			ns.left = append(ns.left, n)
		} else {
			ns.keyed = append(ns.keyed, n)
		}
	}
	sort.Strings(ns.keyed)
	return ns
}

// input writes the HMAC input of a call in mk.buf: the product, then each
// keyed parameter as NUL, name, '=', value. It fails when params do not
// carry exactly the names of the product's last call.
func (mk *keyMAC) input(product string, params map[string]string) ([]byte, bool) {
	ns, ok := mk.names[product]
	if !ok || len(params) != len(ns.keyed)+len(ns.left) {
		return nil, false
	}
	for _, n := range ns.left {
		if _, ok := params[n]; !ok {
			return nil, false
		}
	}
	b := append(mk.buf[:0], product...)
	for _, n := range ns.keyed {
		v, ok := params[n]
		if !ok {
			return nil, false
		}
		b = append(b, 0)
		b = append(b, n...)
		b = append(b, '=')
		b = append(b, v...)
	}
	return b, true
}
