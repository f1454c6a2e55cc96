-- A spatial index of the sites' bounding boxes: the registry map lists the sites in a box, and
-- the B-tree on (min_lon, …) could bound only one of the four sides (half the index read on
-- every call). A GiST index over the box the four columns make.
CREATE INDEX sites_bbox_gist ON sites USING gist (box(point(min_lon, min_lat), point(max_lon, max_lat)));
