package gateway

import (
	"context"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/dischargegateway/gateway/discharge"
)

// update is the FHIR update interaction. If-Match makes it a compare-and-set
// (412 when stale); without it, concurrent updates are serialised by
// retrying. Updating an id that does not exist creates it (updateCreate).
func (s *Server) update(c echo.Context) error {
	typ, doc, part, err := s.incoming(c)
	if err != nil {
		return err
	}
	o, err := s.doUpdate(c.Request().Context(), part, typ, c.Param("id"), doc,
		c.Request().Header.Get("If-Match"), typ)
	if err != nil {
		return err
	}
	s.writeHeaders(c, typ, o.cd.id, o.cd.version, o.cd.now, true)
	return s.reply(c, o.status, o.cd)
}

// doUpdate stores a new version of typ/id.
func (s *Server) doUpdate(ctx context.Context, part, typ, id string, doc map[string]any, ifMatchHeader, path string) (outcome, error) {
	bodyID, _ := doc["id"].(string)
	switch {
	case bodyID == "":
		return outcome{}, discharge.E(discharge.KindRequired, path+".id", "An update must carry the resource id.")
	case bodyID != id:
		return outcome{}, discharge.E(discharge.KindInvalid, path+".id", "The id in the body does not match the id in the URL.")
	}
	ifMatch, hasIfMatch := int64(0), false
	if ifMatchHeader != "" {
		v, ok := parseETag(ifMatchHeader)
		if !ok {
			return outcome{}, discharge.E(discharge.KindInvalid, path+".meta.versionId", `If-Match must be a version ETag such as W/"1".`)
		}
		ifMatch, hasIfMatch = v, true
	}
	stale := func() error {
		return discharge.E(discharge.KindPrecondition, path+".meta.versionId",
			"If-Match names a version that is not the current one.")
	}
	for attempt := 0; ; attempt++ {
		current, err := s.currentVersion(ctx, part, typ, id)
		if err != nil {
			return outcome{}, err
		}
		if hasIfMatch && ifMatch != current {
			return outcome{}, stale()
		}
		cd := &candidate{typ: typ, id: id, doc: doc, expect: current, version: current + 1, path: path, now: s.now()}
		if err := s.intake(ctx, part, cd, nil); err != nil {
			return outcome{}, err
		}
		if err := cd.finish(); err != nil {
			return outcome{}, err
		}
		err = s.commit(ctx, part, []*candidate{cd}, nil)
		if discharge.ErrorKind(err) == discharge.KindRetry {
			if hasIfMatch {
				return outcome{}, stale()
			}
			if attempt < maxRetries {
				continue
			}
		}
		if err != nil {
			return outcome{}, err
		}
		status := http.StatusOK
		if current == 0 {
			status = http.StatusCreated
		}
		return outcome{status: status, cd: cd}, nil
	}
}

// currentVersion is the current version of typ/id, 0 if it does not exist.
func (s *Server) currentVersion(ctx context.Context, part, typ, id string) (int64, error) {
	cur, err := s.store.Read(ctx, part, typ, id)
	switch {
	case err == nil:
		return cur.VersionID, nil
	case discharge.ErrorKind(err) == discharge.KindNotFound:
		return 0, nil
	}
	return 0, err
}
