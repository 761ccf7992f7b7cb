// Checking a receipt in the browser: fetch the inclusion proof from the API and recompute the
// checkpoint's root hash here (RFC 9162, 2.1.3.2), so the page does not just take the
// server's word for it. Without JavaScript (or without WebCrypto) the form asks the server.
(function () {
  "use strict";
  var form = document.getElementById("verify-form");
  var result = document.getElementById("verify-result");
  if (!form || !result || !window.fetch || !window.crypto || !window.crypto.subtle) return;

  function fromHex(hex) {
    var out = new Uint8Array(hex.length / 2);
    for (var i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(i * 2, 2), 16);
    return out;
  }
  function toHex(bytes) {
    return Array.prototype.map.call(new Uint8Array(bytes), function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }
  function nodeHash(left, right) {
    var data = new Uint8Array(1 + left.length + right.length);
    data[0] = 1;
    data.set(left, 1);
    data.set(right, 1 + left.length);
    return crypto.subtle.digest("SHA-256", data).then(function (d) { return new Uint8Array(d); });
  }
  function rootFromProof(index, size, leaf, proof) {
    if (index >= size) return Promise.reject(new Error("index past the tree"));
    var fn = index, sn = size - 1, chain = Promise.resolve(leaf);
    proof.forEach(function (hex) {
      var p = fromHex(hex);
      chain = chain.then(function (r) {
        if (sn === 0) throw new Error("proof too long");
        var next;
        if (fn % 2 === 1 || fn === sn) {
          next = nodeHash(p, r);
          if (fn % 2 === 0) { while (fn !== 0 && fn % 2 === 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); } }
        } else {
          next = nodeHash(r, p);
        }
        fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
        return next;
      });
    });
    return chain.then(function (r) {
      if (sn !== 0) throw new Error("proof too short");
      return toHex(r);
    });
  }
  function show(text, kind) {
    result.textContent = "";
    var p = document.createElement("p");
    p.className = "notice" + (kind ? " notice--" + kind : "");
    p.textContent = text;
    if (kind === "success") p.setAttribute("data-verified", "");
    result.appendChild(p);
  }

  form.addEventListener("submit", function (event) {
    var receipt = form.elements.receipt.value.trim().toLowerCase();
    if (!/^[0-9a-f]{64}$/.test(receipt)) return; // the server explains what a receipt looks like
    event.preventDefault();
    show("Checking…");
    var url = form.getAttribute("data-inclusion-url") + "?leaf_hash=" + receipt;
    fetch(url, { headers: { Accept: "application/json" } })
      .then(function (response) {
        return response.json().then(function (body) {
          if (!response.ok) throw new Error(body.error ? body.error.detail : "HTTP " + response.status);
          return body;
        });
      })
      .then(function (body) {
        var checkpoint = body.checkpoint;
        return rootFromProof(body.leaf_index, checkpoint.tree_size, fromHex(receipt), body.proof)
          .then(function (root) {
            if (root !== checkpoint.root_hash) {
              show("The proof does not lead to the checkpoint's root hash: please report this.", "error");
            } else if (body.kind === "add") {
              show("Your signature is entry " + (body.leaf_index + 1) + " of " + checkpoint.tree_size +
                " (leaf index " + body.leaf_index + ") in checkpoint " +
                checkpoint.number + " (taken " + checkpoint.created_at + ", " +
                checkpoint.standing_count + " signatures standing). Checked in your browser: " +
                "the proof leads from your receipt to that checkpoint's root hash.", "success");
            } else {
              show("That is a withdrawal: entry " + (body.leaf_index + 1) + " (leaf index " +
                body.leaf_index + ") in checkpoint " +
                checkpoint.number + ".", "success");
            }
          });
      })
      .catch(function (err) { show(err.message, "error"); });
  });
})();
