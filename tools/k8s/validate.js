// Validates Kubernetes objects against the API's own schemas (the
// kubernetes-models package, generated from Kubernetes' OpenAPI): every
// document of every file given must be a known kind and valid.
//   node tools/k8s/validate.js FILE...
// Prints one line per problem ("FILE: Kind/name: data/spec/... must be
// integer") and exits 1 when there is any; prints what was checked.
"use strict";
const fs = require("fs");
const path = require("path");
const YAML = require("yaml");

function modelFor(apiVersion, kind) {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  const module = group === "" ? `kubernetes-models/${version}/${kind}`
                              : `kubernetes-models/${group}/${version}/${kind}`;
  try {
    return require(module)[kind];
  } catch (e) {
    return null;
  }
}

let problems = 0;
let checked = 0;
for (const file of process.argv.slice(2)) {
  const docs = YAML.parseAllDocuments(fs.readFileSync(file, "utf8"));
  for (const doc of docs) {
    if (doc.errors.length > 0) {
      console.log(`${file}: not YAML: ${doc.errors[0].message}`);
      problems++;
      continue;
    }
    const object = doc.toJS();
    if (object === null) continue;
    const label = `${object.kind}/${object.metadata && object.metadata.name}`;
    const Model = modelFor(String(object.apiVersion), String(object.kind));
    if (Model === null) {
      console.log(`${file}: ${label}: unknown apiVersion/kind ${object.apiVersion} ${object.kind}`);
      problems++;
      continue;
    }
    try {
      new Model(object).validate();
      checked++;
    } catch (e) {
      console.log(`${file}: ${label}: ${e.message}`);
      problems++;
    }
  }
}
console.log(`${checked} objects valid, ${problems} problems`);
process.exit(problems > 0 ? 1 : 0);
