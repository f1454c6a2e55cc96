-- A spatial index of the sites' bounding boxes: the registry map lists the sites in a box, and
-- the B-tree on (min_lon, …) could bound only one of the four sides (half the index read on
-- every call). SQLite's R*Tree needs integer keys, and the rowid of a table keyed by text may
-- change on VACUUM, so each site gets a stable integer key here.
CREATE TABLE site_keys (
    key INTEGER PRIMARY KEY,
    site_id TEXT NOT NULL UNIQUE
);
CREATE VIRTUAL TABLE sites_rtree USING rtree(key, min_lon, max_lon, min_lat, max_lat);

INSERT INTO site_keys (site_id) SELECT id FROM sites ORDER BY id;
INSERT INTO sites_rtree SELECT k.key, s.min_lon, s.max_lon, s.min_lat, s.max_lat FROM sites s JOIN site_keys k ON k.site_id = s.id;

CREATE TRIGGER sites_spatial_insert AFTER INSERT ON sites BEGIN
    INSERT INTO site_keys (site_id) VALUES (new.id);
    INSERT INTO sites_rtree SELECT key, new.min_lon, new.max_lon, new.min_lat, new.max_lat FROM site_keys WHERE site_id = new.id;
END;

CREATE TRIGGER sites_spatial_update AFTER UPDATE OF min_lon, max_lon, min_lat, max_lat ON sites BEGIN
    UPDATE sites_rtree SET min_lon = new.min_lon, max_lon = new.max_lon, min_lat = new.min_lat, max_lat = new.max_lat
    WHERE key = (SELECT key FROM site_keys WHERE site_id = new.id);
END;

CREATE TRIGGER sites_spatial_delete AFTER DELETE ON sites BEGIN
    DELETE FROM sites_rtree WHERE key = (SELECT key FROM site_keys WHERE site_id = old.id);
    DELETE FROM site_keys WHERE site_id = old.id;
END;
