package main

import (
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/scorepipe/scorepipe/config"
	"github.com/scorepipe/scorepipe/manifest"
	"github.com/scorepipe/scorepipe/providers/tianyuan"
	"github.com/scorepipe/scorepipe/providers/tianyuan/tianyuantest"
	"github.com/scorepipe/scorepipe/store"
)

// Environment variables.
const (
	envAccessID = "SCOREPIPE_ACCESS_ID"
	envKey      = "SCOREPIPE_ACCESS_KEY"
	envEndpoint = "SCOREPIPE_ENDPOINT"
	envSecret   = "SCOREPIPE_IDENTITY_SECRET"
)

// vendorConn is the client a run talks to, and what to close after.
type vendorConn struct {
	caller *tianyuan.Client
	cipher *tianyuan.Cipher
	info   manifest.VendorInfo
	close  func()
}

// credentials say which vendor a run calls and how it signs in, from the
// config and the environment.
type credentials struct {
	id, key  string
	endpoint string // "" for the built-in fake vendor
	fake     bool   // the built-in fake, or a mock-vendor at endpoint
	ignored  bool   // credentials were set but the config asks for the fake
}

// vendorCredentials reads the credentials from the environment and checks
// them against the config, before anything is written or started. A
// config that does not ask for the fake vendor (vendor.fake, --fake-vendor)
// needs SCOREPIPE_ACCESS_ID and SCOREPIPE_ACCESS_KEY. A config that asks
// for it gets the built-in one, or with SCOREPIPE_ENDPOINT a separately
// started mock-vendor, signed in with the credentials set or else the
// fake's demo ones.
func vendorCredentials(cfg *config.Config) (credentials, error) {
	c := credentials{id: os.Getenv(envAccessID), key: os.Getenv(envKey), endpoint: os.Getenv(envEndpoint), fake: cfg.Vendor.Fake}
	keyFormat := tianyuan.KeyFormat(cfg.Vendor.KeyFormat)
	switch {
	case (c.id == "") != (c.key == ""):
		return c, &config.ConfigError{Field: envAccessID + "/" + envKey, Msg: "set both or neither"}
	case c.fake && c.endpoint == "":
		c.ignored = c.id != ""
		c.id, c.key, keyFormat = tianyuantest.DemoAccessID, tianyuantest.DemoAccessKey, tianyuan.KeyHex
	case c.fake && c.id == "":
		c.id, c.key, keyFormat = tianyuantest.DemoAccessID, tianyuantest.DemoAccessKey, tianyuan.KeyHex
	case c.fake:
	case c.id == "":
		return c, &config.ConfigError{Field: "vendor", Msg: "no credentials: set " + envAccessID + " and " + envKey +
			" to call the vendor; or, for synthetic data from the built-in fake vendor, set vendor.fake: true or use --fake-vendor"}
	case c.endpoint == "":
		c.endpoint = cfg.Vendor.BaseURL
	}
	if _, err := tianyuan.ParseKey(c.key, keyFormat); err != nil {
		return c, &config.ConfigError{Field: envKey, Msg: strings.TrimPrefix(err.Error(), "tianyuan: ")}
	}
	return c, nil
}

// connectVendor builds the vendor client, starting the built-in fake
// vendor on loopback when the credentials ask for it. A fake vendor is
// told in the log, as every file of the run tells it.
func connectVendor(cfg *config.Config, c credentials, log *slog.Logger) (*vendorConn, error) {
	conn := &vendorConn{close: func() {}, info: manifest.VendorInfo{Endpoint: c.endpoint, Fake: c.fake}}
	if c.fake && c.endpoint == "" {
		srv, _ := tianyuantest.NewServer(tianyuantest.Options{})
		conn.close = srv.Close
		conn.info.Endpoint = srv.URL
	}
	if c.fake {
		which := "the built-in fake vendor answers on loopback"
		if c.endpoint != "" {
			which = "a fake vendor (mock-vendor) at " + envEndpoint + " answers"
		}
		log.Warn(which+" (vendor.fake or --fake-vendor): the features are synthetic",
			"endpoint", conn.info.Endpoint, "hint", "for the real vendor set "+envAccessID+" and "+envKey+" and leave vendor.fake unset")
		if c.ignored {
			log.Warn("the credentials in the environment are not used: the config asks for the fake vendor")
		}
	}
	k, err := c.aesKey(cfg)
	if err != nil {
		conn.close()
		return nil, err
	}
	// The client follows no redirect, whatever this http.Client says: a
	// redirect stops the run naming where it pointed (a wrong endpoint).
	client, err := tianyuan.NewClient(tianyuan.ClientConfig{BaseURL: strings.TrimRight(conn.info.Endpoint, "/"), AccessID: c.id, Key: k, AccessKey: c.key,
		HTTP: &http.Client{Transport: transport(cfg)}})
	if err != nil {
		conn.close()
		return nil, &config.ConfigError{Field: "vendor", Msg: err.Error()}
	}
	conn.caller, conn.cipher = client, client.Cipher()
	return conn, nil
}

// aesKey returns the AES key the credentials sign in with (the fake's demo
// key is hex whatever vendor.key_format says).
func (c credentials) aesKey(cfg *config.Config) ([]byte, error) {
	keyFormat := tianyuan.KeyFormat(cfg.Vendor.KeyFormat)
	if c.fake && c.key == tianyuantest.DemoAccessKey {
		keyFormat = tianyuan.KeyHex
	}
	k, err := tianyuan.ParseKey(c.key, keyFormat)
	if err != nil {
		return nil, &config.ConfigError{Field: envKey, Msg: strings.TrimPrefix(err.Error(), "tianyuan: ")}
	}
	return k, nil
}

// planCipher returns the cipher a run of cfg would use, from the
// credentials alone, without starting or calling anything: plan tells by
// it the stored replies encrypted with another access key, which a run
// pays for again. nil (and why, for the log) when no credentials are set.
func planCipher(cfg *config.Config) (*tianyuan.Cipher, error) {
	c, err := vendorCredentials(cfg)
	if err != nil {
		return nil, err
	}
	k, err := c.aesKey(cfg)
	if err != nil {
		return nil, err
	}
	return tianyuan.NewCipher(k)
}

// transport is tuned for many concurrent calls to one host.
func transport(cfg *config.Config) *http.Transport {
	conns := 0
	for _, p := range cfg.Products {
		conns += p.Concurrency
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = max(100, conns)
	t.MaxIdleConnsPerHost = max(16, conns)
	t.ResponseHeaderTimeout = cfg.Vendor.Timeout
	t.IdleConnTimeout = 90 * time.Second
	return t
}

// identitySecret returns the secret of the identity keys: from the
// environment when set, else from the secret file, created on first use
// when create is set (otherwise a missing file gives a random secret: no
// stored reply can match it). A missing file is an error when the reply
// store already holds replies, which only their secret can find.
func identitySecret(cfg *config.Config, create bool) ([]byte, error) {
	if s := os.Getenv(envSecret); s != "" {
		if len(s) < 16 {
			return nil, &config.ConfigError{Field: envSecret, Msg: "at least 16 characters"}
		}
		return []byte(s), nil
	}
	path := cfg.SecretPath()
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		// A new secret for a store that holds replies would find none of
		// them: every row would be paid for again (and plan would say so).
		held, err := store.HoldsReplies(cfg.CachePath())
		if err != nil {
			return nil, err
		}
		if held {
			return nil, &config.ConfigError{Field: "identity.secret_file", Msg: fmt.Sprintf(
				"%s does not exist, but the reply store %s holds replies keyed with an identity secret: "+
					"a new secret would find none of them and pay for every row again; point identity.secret_file "+
					"(or %s) at the secret the store was filled with, or use another cache.path", path, cfg.CachePath(), envSecret)}
		}
		if !create {
			secret := make([]byte, 32)
			_, _ = rand.Read(secret)
			return secret, nil
		}
	}
	secret, err := config.LoadSecret(path)
	if err != nil {
		return nil, &config.ConfigError{Field: "identity.secret_file", Msg: err.Error()}
	}
	return secret, nil
}
