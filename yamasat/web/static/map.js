/* The map of products: base outlines (GeoJSON) and one tile layer per product, all from
   this host. No base map tiles from elsewhere. window.yamasatMap is the Leaflet map;
   document.body.dataset.tiles becomes "loaded" once the product tiles in view have loaded. */
(function () {
  "use strict";
  var el = document.getElementById("map");
  if (!el) { return; }
  var d = el.dataset;
  var map = L.map(el, { zoomControl: false, attributionControl: false, keyboard: true });
  L.control.zoom({ zoomInTitle: d.zoomIn, zoomOutTitle: d.zoomOut }).addTo(map);
  window.yamasatMap = map;
  map.setView([34.2, 131.6], 9);
  // the outlines lie under the product tiles (tile pane: z-index 200)
  map.createPane("base");
  map.getPane("base").style.zIndex = 150;
  var control = L.control.layers(null, null, { collapsed: false }).addTo(map);
  var pending = 0;
  function done() {
    pending -= 1;
    if (pending <= 0) { document.body.dataset.tiles = "loaded"; }
  }
  function get(url) {
    return fetch(url, { credentials: "same-origin" }).then(function (r) {
      if (!r.ok) { throw new Error(url + ": HTTP " + r.status); }
      return r.json();
    });
  }
  var lang = d.lang === "ja" ? "ja" : "en";
  get(d.boundaries).then(function (fc) {
    var outlines = L.geoJSON(fc, {
      pane: "base",
      style: { color: "#333", weight: 1, fill: true, fillColor: "#f4f1ea", fillOpacity: 1 },
      onEachFeature: function (f, layer) {
        layer.bindTooltip(lang === "ja" ? f.properties.name_ja : f.properties.name_en);
      }
    }).addTo(map);
    outlines.bringToBack();
    control.addOverlay(outlines, d.baseName);
    return get(d.products);
  }).then(function (fc) {
    var bounds = null;
    var layers = [];
    fc.features.forEach(function (f) {
      var p = f.properties;
      if (!p.tiles || !p.bbox) { return; }
      var b = L.latLngBounds([p.bbox[1], p.bbox[0]], [p.bbox[3], p.bbox[2]]);
      bounds = bounds ? bounds.extend(b) : L.latLngBounds(b.getSouthWest(), b.getNorthEast());
      layers.push([p, b]);
    });
    // zoom first, so that tiles are asked for at the zoom that shows them
    if (bounds) { map.fitBounds(bounds, { padding: [20, 20], animate: false }); }
    layers.forEach(function (pb) {
      var p = pb[0], b = pb[1];
      var layer = L.tileLayer(p.tiles, { bounds: b, maxNativeZoom: 18, maxZoom: 18, opacity: 1 });
      pending += 1;
      layer.once("load", done);
      layer.on("tileerror", function (e) {
        el.dataset.tileErrors = (el.dataset.tileErrors || "") + e.tile.src + " ";
      });
      var frame = L.rectangle(b, { color: "#0b3d5c", weight: 1, fill: false, interactive: false });
      var group = L.layerGroup([layer, frame]).addTo(map);
      control.addOverlay(group, p.name);
      el.dataset.layers = String(Number(el.dataset.layers || 0) + 1);
    });
    if (pending === 0) { document.body.dataset.tiles = "loaded"; }
  }).catch(function (e) {
    el.dataset.error = String(e);
    document.body.dataset.tiles = "failed";
  });
}());
