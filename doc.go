// Module scorepipe is a batch scoring pipeline: it reads applicant files,
// calls paid risk-data APIs for every applicant under a rate limiter, expands
// the interval codes they return into numeric ranges, and writes feature
// datasets for model training.
//
// Data flows one way, stage to stage, through bounded channels:
//
//	sources ─► transform (validate) ─► pipeline (cache ▸ retry ▸ limiter ▸ client) ─► transform (features) ─► sinks
//
// The layout:
//
//	cmd/scorepipe          the command line: flags, config, wiring, exit codes
//	pipeline               run orchestration: stages, workers, limiters, retries, reply store and
//	                       audit wiring, reorder buffer, budget, publishing, verdict
//	config                 the job's configuration: YAML and --set, defaults, checks, the state directory
//	inputs                 a run's input files, the leading columns and the input columns passed through
//	pacing                 a product's rate under its ceiling, following the vendor's throttling
//	progress               the progress bar and progress lines of a run under way
//	manifest               what a run records: manifest.json, the marks of its files, its metrics
//	store                  the reply store: every paid reply, durable, encrypted as received
//	sources                applicant readers (CSV, XLSX) yielding records with file and row
//	providers/tianyuan     the vendor protocol: AES envelope, typed error codes, the HTTP client
//	providers/tianyuan/tianyuantest
//	                       a fake vendor speaking the same protocol, for tests and mock-vendor
//	transform              applicant validation, identity keys, masking, payload → feature row,
//	                       the data dictionary of a product's columns
//	redact                 masking of ID numbers and mobiles however written, and of known secrets, in text
//	mappings               field catalogs and interval/enum tables, embedded and overridable
//	sinks                  Parquet, Excel, CSV, rejects and manifest writers with atomic commit
//	publish                the output folder: a lock, a staging folder, one swap to publish the set;
//	                       a shard's part of it, under its own lock
//	shards                 a shard of a run: --shard i/n, the shard of an applicant key, part names
//	collect                publishes a sharded dataset once every shard has: checks, combined manifest
//	metrics                a run's figures in Prometheus's text format (metrics.prom) and pushed
//	rundir                 reader of published runs: manifest.json and features.parquet, streamed
//	review                 the portfolio review: coverage, distributions, IV/KS, PSI, changes under rules
//	audit                  the consent audit trail: every request and reuse, who, when, under which authorization;
//	                       the lines of a run (Recorder)
//	samples                sample applicants and configuration
//	deploy                 the container image (Dockerfile) and Kubernetes manifests, tested
//
// sources, providers, mappings, sinks, store, publish, shards, metrics,
// rundir, review, audit, config, inputs, pacing, progress, manifest, redact
// and collect never import pipeline: only cmd does.
package scorepipe
