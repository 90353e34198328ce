package backup

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"filippo.io/age"

	"github.com/opsdeck/opsdeck/ops/config"
	"github.com/opsdeck/opsdeck/ops/pgwal"
)

// The WAL archive keeps a cluster's write-ahead log as objects of the
// store (Store.PutObject), one folder per cluster, named by its system
// identifier so that two clusters never mix:
//
//	wal/<sysid>/archive.json                          the cluster: segment size, version
//	wal/<sysid>/<TLI>/<segment>-<sha256>.zst[.age]    a whole segment
//	wal/<sysid>/<TLI>/<segment>.partial-<from>-<to>-<sha256>.zst[.age]
//	                                                  bytes [from, to) of a segment not yet whole
//	wal/<sysid>/<TLI>.history-<sha256>.zst[.age]      a timeline's history file
//
// TLI is the timeline in 8 hex digits, from and to are offsets in the
// segment in 8 hex digits, sha256 is of the content (decrypted,
// decompressed). Every object is written whole or not at all, so a key
// names a content that can be checked without any other record: verify
// re-hashes it; the names alone give the catalog and its gaps. The
// streamer (ops/wal) writes the open segment as numbered chunks every
// flush interval, so the loss window is that interval without rewriting
// the segment, and replaces them with the whole segment when it is full.

// walRoot is the folder of every cluster's archive.
const walRoot = "wal/"

// archiveInfoName is the archive's own description.
const archiveInfoName = "archive.json"

// WALComponent is the name of the WAL archive's component type.
const WALComponent = "wal"

// walComponent is the WAL archive as a component type: it keeps its data
// outside the sets, written by the streamer (ops/wal).
type walComponent struct{}

func (walComponent) Name() string { return WALComponent }

func (walComponent) About(cfg *config.Config) string {
	state := "off"
	if cfg.Postgres.WAL.Stream {
		state = "streamed by opsdeck serve"
	}
	return fmt.Sprintf("continuous WAL archive through slot %q (%s)", cfg.Postgres.WAL.Slot, state)
}

// ArchiveInfo describes the cluster a WAL archive belongs to.
type ArchiveInfo struct {
	SystemID    uint64    `json:"system_identifier,string"`
	SegmentSize uint64    `json:"segment_size"`
	Version     int       `json:"server_version_num,omitempty"`
	Created     time.Time `json:"created"`
}

// WALArchive is one cluster's WAL archive in a store.
type WALArchive struct {
	Store    Store
	Codec    Codec          // for writing
	IDs      []age.Identity // for reading encrypted objects
	SystemID uint64
}

func (a *WALArchive) prefix() string { return walRoot + strconv.FormatUint(a.SystemID, 10) + "/" }

func tliHex(tli uint32) string { return fmt.Sprintf("%08X", tli) }

// WALSystems lists the system identifiers that have an archive in st.
func WALSystems(ctx context.Context, st Store) ([]uint64, error) {
	objs, err := st.ListObjects(ctx, walRoot)
	if err != nil {
		return nil, err
	}
	var out []uint64
	for _, o := range objs {
		rest := strings.TrimPrefix(o.Key, walRoot)
		sys, name, ok := strings.Cut(rest, "/")
		if !ok || name != archiveInfoName {
			continue
		}
		if id, err := strconv.ParseUint(sys, 10, 64); err == nil {
			out = append(out, id)
		}
	}
	return out, nil
}

// Info reads the archive's description; ErrNotFound when there is none.
func (a *WALArchive) Info(ctx context.Context) (ArchiveInfo, error) {
	rc, err := a.Store.OpenObject(ctx, a.prefix()+archiveInfoName)
	if err != nil {
		return ArchiveInfo{}, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, 1<<16))
	if err != nil {
		return ArchiveInfo{}, fmt.Errorf("read the WAL archive's %s: %w", archiveInfoName, err)
	}
	var info ArchiveInfo
	if err := json.Unmarshal(b, &info); err != nil {
		return ArchiveInfo{}, fmt.Errorf("the WAL archive's %s is damaged: %w", archiveInfoName, err)
	}
	if info.SystemID != a.SystemID || !pgwal.ValidSegmentSize(info.SegmentSize) {
		return ArchiveInfo{}, fmt.Errorf("the WAL archive's %s says system %d, segment size %d: not this archive's", archiveInfoName, info.SystemID, info.SegmentSize)
	}
	return info, nil
}

// Init writes the archive's description when it has none, and checks it
// against info when it has: an archive's segment size never changes.
func (a *WALArchive) Init(ctx context.Context, info ArchiveInfo) (ArchiveInfo, error) {
	have, err := a.Info(ctx)
	switch {
	case err == nil:
		if have.SegmentSize != info.SegmentSize {
			return have, fmt.Errorf("the WAL archive of system %d holds %d-byte segments, the server writes %d-byte ones: a cluster's segment size cannot change — is this the same cluster?", a.SystemID, have.SegmentSize, info.SegmentSize)
		}
		return have, nil
	case !errors.Is(err, ErrNotFound):
		return have, err
	}
	info.SystemID = a.SystemID
	if info.Created.IsZero() {
		info.Created = time.Now().UTC()
	}
	b, _ := json.MarshalIndent(info, "", "  ")
	return info, a.Store.PutObject(ctx, a.prefix()+archiveInfoName, append(b, '\n'))
}

// WALKind says what a WAL archive object holds.
type WALKind int

// The kinds of WAL archive objects.
const (
	WALSegment WALKind = iota // a whole segment
	WALPartial                // a chunk of a segment not yet whole
	WALHistory                // a timeline history file
	WALRelMap                 // a relfilenode map (pgwal.RelMap)
)

// WALObject is one object of the archive, as its key describes it.
type WALObject struct {
	Object
	Kind      WALKind
	Segment   pgwal.Segment // WALSegment, WALPartial
	Timeline  uint32        // every kind
	From, To  uint32        // WALPartial: the bytes of the segment it holds
	SHA256    string        // of the content
	Encrypted bool
	At        pgwal.LSN // WALRelMap: where the map is true
}

// Name is the object's file name as the server knows it: the segment's
// or the history file's.
func (o WALObject) Name(segSize uint64) string {
	switch o.Kind {
	case WALHistory:
		return pgwal.HistoryName(o.Timeline)
	case WALRelMap:
		return "relation map at " + o.At.String()
	}
	return o.Segment.Name(segSize)
}

// parseWALKey reads a key of the archive of prefix p.
func parseWALKey(o Object, p string, segSize uint64) (WALObject, bool) {
	w := WALObject{Object: o}
	rest, ok := strings.CutPrefix(o.Key, p)
	if !ok {
		return w, false
	}
	switch {
	case strings.HasSuffix(rest, ".zst.age"):
		w.Encrypted = true
		rest = strings.TrimSuffix(rest, ".zst.age")
	case strings.HasSuffix(rest, ".zst"):
		rest = strings.TrimSuffix(rest, ".zst")
	default:
		return w, false
	}
	dir, file, nested := strings.Cut(rest, "/")
	if at, ok := strings.CutPrefix(dir, relMapPrefix); ok && !nested {
		// relmap-<LSN in 16 hex digits>-<sha>
		lsn, sum, ok := strings.Cut(at, "-")
		v, err := strconv.ParseUint(lsn, 16, 64)
		if !ok || len(lsn) != 16 || err != nil || !validSHA(sum) {
			return w, false
		}
		w.Kind, w.At, w.SHA256 = WALRelMap, pgwal.LSN(v), sum
		return w, true
	}
	if !nested {
		// <TLI>.history-<sha>
		name, sum, ok := strings.Cut(dir, "-")
		if !ok || !validSHA(sum) {
			return w, false
		}
		tli, ok := pgwal.ParseHistoryName(name)
		if !ok {
			return w, false
		}
		w.Kind, w.Timeline, w.SHA256 = WALHistory, tli, sum
		return w, true
	}
	tli, err := strconv.ParseUint(dir, 16, 32)
	if err != nil || len(dir) != 8 || tli == 0 {
		return w, false
	}
	w.Timeline = uint32(tli)
	if name, tail, ok := strings.Cut(file, ".partial-"); ok {
		parts := strings.Split(tail, "-")
		if len(parts) != 3 || !validSHA(parts[2]) {
			return w, false
		}
		from, err1 := strconv.ParseUint(parts[0], 16, 32)
		to, err2 := strconv.ParseUint(parts[1], 16, 32)
		seg, err3 := pgwal.ParseSegmentName(name, segSize)
		if err1 != nil || err2 != nil || err3 != nil || from >= to || to > segSize || seg.Timeline != w.Timeline {
			return w, false
		}
		w.Kind, w.Segment, w.From, w.To, w.SHA256 = WALPartial, seg, uint32(from), uint32(to), parts[2]
		return w, true
	}
	name, sum, ok := strings.Cut(file, "-")
	seg, err := pgwal.ParseSegmentName(name, segSize)
	if !ok || err != nil || !validSHA(sum) || seg.Timeline != w.Timeline {
		return w, false
	}
	w.Kind, w.Segment, w.SHA256 = WALSegment, seg, sum
	return w, true
}

func validSHA(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil && strings.ToLower(s) == s
}

func sum256(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// put seals content under key+"-"+sha+ext. packed, when not nil, is
// content already compressed (zstd frames that decode to it); it returns
// the key and the compressed bytes before encryption.
func (a *WALArchive) put(ctx context.Context, key string, content, packed []byte) (string, []byte, error) {
	if packed == nil {
		var err error
		if packed, err = a.Codec.Pack(content); err != nil {
			return "", nil, err
		}
	}
	sealed, err := a.Codec.SealPacked(packed)
	if err != nil {
		return "", nil, err
	}
	full := key + "-" + sum256(content) + a.Codec.SealExt()
	if err := a.Store.PutObject(ctx, full, sealed); err != nil {
		return "", nil, err
	}
	return full, packed, nil
}

// PutSegment stores a whole segment.
func (a *WALArchive) PutSegment(ctx context.Context, seg pgwal.Segment, segSize uint64, data []byte) (string, error) {
	return a.PutSegmentFrames(ctx, seg, segSize, data, nil)
}

// PutSegmentFrames stores a whole segment from its chunks' compressed
// frames (PutPartial's), in order, which together decode to data: the
// streamer compresses each byte once. Without frames it compresses data.
func (a *WALArchive) PutSegmentFrames(ctx context.Context, seg pgwal.Segment, segSize uint64, data []byte, frames [][]byte) (string, error) {
	if uint64(len(data)) != segSize {
		return "", fmt.Errorf("segment %s: %d bytes, want %d", seg.Name(segSize), len(data), segSize)
	}
	var packed []byte
	if len(frames) > 0 {
		n := 0
		for _, f := range frames {
			n += len(f)
		}
		packed = make([]byte, 0, n)
		for _, f := range frames {
			packed = append(packed, f...)
		}
	}
	key, _, err := a.put(ctx, a.prefix()+tliHex(seg.Timeline)+"/"+seg.Name(segSize), data, packed)
	return key, err
}

// PutPartial stores bytes [from, from+len(data)) of a segment not yet
// whole. It returns the chunk's key and its compressed frame, from which
// PutSegmentFrames can store the segment once it is whole.
func (a *WALArchive) PutPartial(ctx context.Context, seg pgwal.Segment, segSize uint64, from uint32, data []byte) (string, []byte, error) {
	to := uint64(from) + uint64(len(data))
	if len(data) == 0 || to > segSize {
		return "", nil, fmt.Errorf("segment %s: a chunk [%d, %d) outside the segment", seg.Name(segSize), from, to)
	}
	return a.put(ctx, fmt.Sprintf("%s%s/%s.partial-%08X-%08X", a.prefix(), tliHex(seg.Timeline), seg.Name(segSize), from, to), data, nil)
}

// PutHistory stores timeline tli's history file.
func (a *WALArchive) PutHistory(ctx context.Context, tli uint32, content []byte) (string, error) {
	key, _, err := a.put(ctx, a.prefix()+pgwal.HistoryName(tli), content, nil)
	return key, err
}

// Read reads an object's content and checks it against the SHA-256 its
// key names.
func (a *WALArchive) Read(ctx context.Context, o WALObject) ([]byte, error) {
	rc, err := a.Store.OpenObject(ctx, o.Key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	stored, err := io.ReadAll(io.LimitReader(rc, maxSealed+1<<20))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", o.Key, err)
	}
	content, err := Unseal(stored, o.Encrypted, a.IDs)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", o.Key, err)
	}
	if got := sum256(content); got != o.SHA256 {
		return nil, fmt.Errorf("%s: content SHA-256 %s, its name says %s: %w", o.Key, got, o.SHA256, ErrChecksum)
	}
	if o.Kind == WALPartial && len(content) != int(o.To-o.From) {
		return nil, fmt.Errorf("%s: %d bytes, its name says %d: %w", o.Key, len(content), o.To-o.From, ErrChecksum)
	}
	return content, nil
}

// WALCatalog is what an archive holds, from its object names.
type WALCatalog struct {
	Info ArchiveInfo
	// Segments are the whole segments of each timeline, by segment number.
	Segments map[uint32][]WALObject
	// Partials are the chunks of segments not yet whole (those of a
	// segment that is whole are leftovers: Stale), by segment and offset.
	Partials map[uint32][]WALObject
	// Stale are chunks of segments stored whole since: left by a streamer
	// stopped between the two writes; prune deletes them.
	Stale []WALObject
	// Histories are the timeline history files.
	Histories map[uint32]WALObject
	// RelMaps are the relfilenode maps, by LSN.
	RelMaps []WALObject
	// Stray are objects under the archive whose names mean nothing.
	Stray []Object
	// Newest is the newest object's time: the archive's last write.
	Newest time.Time
	// Bytes is the stored size of every object.
	Bytes int64
}

// Catalog lists the archive.
func (a *WALArchive) Catalog(ctx context.Context) (*WALCatalog, error) {
	info, err := a.Info(ctx)
	if err != nil {
		return nil, err
	}
	objs, err := a.Store.ListObjects(ctx, a.prefix())
	if err != nil {
		return nil, err
	}
	c := &WALCatalog{Info: info, Segments: map[uint32][]WALObject{}, Partials: map[uint32][]WALObject{}, Histories: map[uint32]WALObject{}}
	whole := map[pgwal.Segment]bool{}
	var partials []WALObject
	for _, o := range objs {
		c.Bytes += o.Size
		if o.ModTime.After(c.Newest) {
			c.Newest = o.ModTime
		}
		if o.Key == a.prefix()+archiveInfoName {
			continue
		}
		w, ok := parseWALKey(o, a.prefix(), info.SegmentSize)
		if !ok {
			c.Stray = append(c.Stray, o)
			continue
		}
		switch w.Kind {
		case WALSegment:
			if whole[w.Segment] {
				c.Stray = append(c.Stray, o) // a second copy under another hash
				continue
			}
			whole[w.Segment] = true
			c.Segments[w.Timeline] = append(c.Segments[w.Timeline], w)
		case WALPartial:
			partials = append(partials, w)
		case WALHistory:
			c.Histories[w.Timeline] = w
		case WALRelMap:
			c.RelMaps = append(c.RelMaps, w)
		}
	}
	for _, p := range partials {
		if whole[p.Segment] {
			c.Stale = append(c.Stale, p)
		} else {
			c.Partials[p.Timeline] = append(c.Partials[p.Timeline], p)
		}
	}
	sort.Slice(c.RelMaps, func(i, j int) bool { return c.RelMaps[i].At < c.RelMaps[j].At })
	for tli := range c.Segments {
		s := c.Segments[tli]
		sort.Slice(s, func(i, j int) bool { return s[i].Segment.No < s[j].Segment.No })
	}
	for tli := range c.Partials {
		s := c.Partials[tli]
		sort.Slice(s, func(i, j int) bool {
			if s[i].Segment.No != s[j].Segment.No {
				return s[i].Segment.No < s[j].Segment.No
			}
			return s[i].From < s[j].From
		})
	}
	return c, nil
}

// Timelines returns the timelines with segments or chunks, oldest first.
func (c *WALCatalog) Timelines() []uint32 {
	seen := map[uint32]bool{}
	for t := range c.Segments {
		seen[t] = true
	}
	for t := range c.Partials {
		seen[t] = true
	}
	var out []uint32
	for t := range seen {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// SegmentCount is the number of whole segments.
func (c *WALCatalog) SegmentCount() int {
	n := 0
	for _, s := range c.Segments {
		n += len(s)
	}
	return n
}

// OpenSegments returns the segments of timeline tli held as chunks only,
// in order: each once, however many chunks it has.
func (c *WALCatalog) OpenSegments(tli uint32) []pgwal.Segment {
	var out []pgwal.Segment
	for _, p := range c.Partials[tli] {
		if n := len(out); n == 0 || out[n-1] != p.Segment {
			out = append(out, p.Segment) // Partials are sorted by segment
		}
	}
	return out
}

// partialRun returns the chunks of seg that run from its start without a
// hole, and the offset they reach (0: none).
func (c *WALCatalog) partialRun(seg pgwal.Segment) ([]WALObject, uint32) {
	var run []WALObject
	var end uint32
	for _, p := range c.Partials[seg.Timeline] {
		if p.Segment != seg {
			continue
		}
		if p.From > end {
			break
		}
		if p.To > end {
			run = append(run, p)
			end = p.To
		}
	}
	return run, end
}

// ReadPartial assembles the stored chunks of seg from its start: the
// bytes up to the first hole.
func (a *WALArchive) ReadPartial(ctx context.Context, c *WALCatalog, seg pgwal.Segment) ([]byte, error) {
	run, end := c.partialRun(seg)
	if end == 0 {
		return nil, fmt.Errorf("segment %s: no chunks from its start: %w", seg.Name(c.Info.SegmentSize), ErrNotFound)
	}
	out := make([]byte, end)
	for _, p := range run {
		b, err := a.Read(ctx, p)
		if err != nil {
			return nil, err
		}
		copy(out[p.From:], b)
	}
	return out, nil
}

// HistoryEntry is one line of a timeline history file: timeline Parent
// ended at Switch, where its child began.
type HistoryEntry struct {
	Parent uint32
	Switch pgwal.LSN
	Reason string
}

// ParseHistory reads a timeline history file ("1\t0/3000158\tno recovery
// target specified"), oldest ancestor first.
func ParseHistory(b []byte) ([]HistoryEntry, error) {
	var out []HistoryEntry
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 2 {
			return nil, fmt.Errorf("history line %d: %q", n, line)
		}
		tli, err := strconv.ParseUint(f[0], 10, 32)
		if err != nil {
			return nil, fmt.Errorf("history line %d: timeline %q", n, f[0])
		}
		sw, err := pgwal.ParseLSN(f[1])
		if err != nil {
			return nil, fmt.Errorf("history line %d: %w", n, err)
		}
		out = append(out, HistoryEntry{Parent: uint32(tli), Switch: sw, Reason: strings.Join(f[2:], " ")})
	}
	return out, sc.Err()
}

// WALArchive returns the archive of system sysid in the engine's store,
// with its codec for writing and, when configured, the identities that
// read encrypted objects.
func (e *Engine) WALArchive(sysid uint64) (*WALArchive, error) {
	c, err := e.codec()
	if err != nil {
		return nil, err
	}
	ids, err := e.Identities()
	if err != nil {
		return nil, err
	}
	return &WALArchive{Store: e.Store, Codec: c, IDs: ids, SystemID: sysid}, nil
}
