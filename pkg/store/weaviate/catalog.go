package weaviate

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/google/uuid"
	"github.com/weaviate/weaviate-go-client/v5/weaviate/fault"
	"github.com/weaviate/weaviate-go-client/v5/weaviate/filters"
	"github.com/weaviate/weaviate/entities/models"

	"github.com/rag-cli/rag/pkg/store"
)

// partSize is the most catalog bytes (compressed) one object holds.
const partSize = 3 << 20

var headID = uuid.NewSHA1(space, []byte("catalog head")).String()

func partID(commit string, i int) string {
	return uuid.NewSHA1(space, fmt.Appendf(nil, "catalog part\x00%s\x00%d", commit, i)).String()
}

// head is the catalog's head object: which commit is current, in how many
// parts, written by which schema and catalog format.
type head struct {
	commit string
	parts  int
	schema int
	format int
}

// getObject reads one object of the catalog collection; nil when there is
// none. It reads at QUORUM whatever the writes' level: with writes at
// QUORUM or ALL a reader sees the last commit, and a replica down does
// not stop reads as ALL would.
func (s *Store) getObject(ctx context.Context, id string) (map[string]any, error) {
	objs, err := s.client.Data().ObjectsGetter().WithClassName(s.catalogClass()).WithID(id).
		WithConsistencyLevel("QUORUM").Do(ctx)
	var we *fault.WeaviateClientError
	if errors.As(err, &we) && we.StatusCode == http.StatusNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, s.fail("read the catalog", err)
	}
	if len(objs) == 0 || objs[0] == nil {
		return nil, nil
	}
	props, _ := objs[0].Properties.(map[string]any)
	return props, nil
}

// readHead reads the catalog's head; nil when the index has none yet.
func (s *Store) readHead(ctx context.Context) (*head, error) {
	p, err := s.getObject(ctx, headID)
	if err != nil || p == nil {
		return nil, err
	}
	h := &head{commit: str(p[propCommit]), parts: num(p[propParts]), schema: num(p[propSchema]), format: num(p[propFormat])}
	if h.schema > SchemaVersion {
		return nil, &store.SchemaError{Addr: s.cfg.Host, Class: s.catalogClass(), Got: h.schema, Want: SchemaVersion,
			Reason: fmt.Sprintf("its catalog has schema version %d, newer than this rag's %d; upgrade rag", h.schema, SchemaVersion)}
	}
	if h.commit == "" || h.parts < 1 {
		return nil, s.corrupt(errors.New("the catalog head names no commit"))
	}
	return h, nil
}

func (s *Store) corrupt(err error) error {
	return &store.CorruptError{Path: s.cfg.String() + " (" + s.catalogClass() + ")", Err: err, Catalog: true}
}

// readCatalog reads the current catalog and its commit; nil when the
// index has none yet.
func (s *Store) readCatalog(ctx context.Context) (*store.Manifest, string, error) {
	h, err := s.readHead(ctx)
	if err != nil || h == nil {
		return nil, "", err
	}
	var packed []byte
	for i := range h.parts {
		p, err := s.getObject(ctx, partID(h.commit, i))
		if err != nil {
			return nil, "", err
		}
		if p == nil {
			return nil, "", s.corrupt(fmt.Errorf("part %d of %d of commit %s is missing", i+1, h.parts, h.commit))
		}
		b, err := base64.StdEncoding.DecodeString(str(p[propData]))
		if err != nil {
			return nil, "", s.corrupt(fmt.Errorf("part %d: %w", i+1, err))
		}
		packed = append(packed, b...)
	}
	zr, err := gzip.NewReader(bytes.NewReader(packed))
	if err != nil {
		return nil, "", s.corrupt(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		return nil, "", s.corrupt(err)
	}
	var m store.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, "", s.corrupt(err)
	}
	if m.FormatVersion > store.FormatVersion {
		return nil, "", &store.VersionError{Path: s.cfg.String(), Got: m.FormatVersion}
	}
	m.FormatVersion = store.FormatVersion
	return &m, h.commit, nil
}

// writeCatalog writes m as a new commit: its parts, then the head that
// names them (one object: readers see the old catalog or the new one),
// then it deletes the parts of the commit replaced.
func (s *Store) writeCatalog(ctx context.Context, m *store.Manifest, old string) (string, error) {
	m.FormatVersion = store.FormatVersion
	raw, err := json.Marshal(m)
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(raw); err != nil {
		return "", err
	}
	if err := zw.Close(); err != nil {
		return "", err
	}
	var id [12]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", err
	}
	commit := hex.EncodeToString(id[:])
	packed := buf.Bytes()
	var objs []*models.Object
	for i := 0; i == 0 || i*partSize < len(packed); i++ {
		part := packed[i*partSize : min(len(packed), (i+1)*partSize)]
		objs = append(objs, &models.Object{Class: s.catalogClass(), ID: strfmtUUID(partID(commit, i)), Properties: map[string]any{
			propKind: "part", propCommit: commit, propPart: i, propData: base64.StdEncoding.EncodeToString(part),
		}})
	}
	if err := s.putObjects(ctx, objs, "write the catalog"); err != nil {
		return "", err
	}
	h := &models.Object{Class: s.catalogClass(), ID: strfmtUUID(headID), Properties: map[string]any{
		propKind: "head", propCommit: commit, propParts: len(objs), propSchema: SchemaVersion, propFormat: store.FormatVersion,
	}}
	if err := s.putObjects(ctx, []*models.Object{h}, "write the catalog head"); err != nil {
		return "", err
	}
	if old != "" {
		where := filters.Where().WithOperator(filters.And).WithOperands([]*filters.WhereBuilder{
			filters.Where().WithPath([]string{propKind}).WithOperator(filters.Equal).WithValueText("part"),
			filters.Where().WithPath([]string{propCommit}).WithOperator(filters.Equal).WithValueText(old),
		})
		if err := s.deleteWhere(ctx, s.catalogClass(), "", where); err != nil {
			return "", err
		}
	}
	return commit, nil
}

// putObjects writes objects in batches at the store's consistency level;
// any object not written fails the write.
func (s *Store) putObjects(ctx context.Context, objs []*models.Object, what string) error {
	const batch = 100
	for len(objs) > 0 {
		n := min(batch, len(objs))
		res, err := s.client.Batch().ObjectsBatcher().WithObjects(objs[:n]...).WithConsistencyLevel(s.cfg.Consistency).Do(ctx)
		if err != nil {
			return s.fail(what, err)
		}
		if err := batchErrors(res); err != nil {
			return fmt.Errorf("weaviate: %s at consistency %s: %w", what, s.cfg.Consistency, err)
		}
		objs = objs[n:]
	}
	return nil
}

// deleteWhere deletes the objects of class (in a tenant; "" none) that
// where matches, in as many rounds as the server's limit on one takes.
func (s *Store) deleteWhere(ctx context.Context, class, tenant string, where *filters.WhereBuilder) error {
	for range 1000 {
		d := s.client.Batch().ObjectsBatchDeleter().WithClassName(class).WithWhere(where).
			WithConsistencyLevel(s.cfg.Consistency).WithOutput("minimal")
		if tenant != "" {
			d = d.WithTenant(tenant)
		}
		res, err := d.Do(ctx)
		if err != nil {
			return s.fail("delete objects", err)
		}
		if res == nil || res.Results == nil || res.Results.Matches == 0 {
			return nil
		}
		if res.Results.Failed > 0 {
			return fmt.Errorf("weaviate: delete objects: %d of %d failed", res.Results.Failed, res.Results.Matches)
		}
		if res.Results.Matches < res.Results.Limit {
			return nil
		}
	}
	return errors.New("weaviate: delete objects: too many rounds")
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func num(v any) int {
	switch n := v.(type) {
	case float64:
		return int(n)
	case json.Number:
		i, _ := n.Int64()
		return int(i)
	case int:
		return n
	case int64:
		return int(n)
	}
	return 0
}
