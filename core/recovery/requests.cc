#include "core/recovery/requests.h"

#include "core/os/files.h"

namespace fleet::recovery {
namespace {

namespace v1 = ::fleet::config::v1;
using fleet::plugin::v1::ProtectedRule;
using fleet::plugin::v1::RecoveryRequest;

void CopyRule(const v1::ProtectedFile& f, const std::string& glob, ProtectedRule* out) {
  out->set_glob(glob);
  out->set_format(f.format());
  out->set_min_size_ratio(f.min_size_ratio());
  for (const std::string& k : f.required_keys()) out->add_required_keys(k);
}

}  // namespace

RecoveryRequest BaseRequest(RecoveryRequest::Op op, const v1::Recovery& config,
                            const std::string& run_dir) {
  RecoveryRequest r;
  r.set_op(op);
  r.set_snapshot_dir(os::JoinPath(run_dir, "recovery/snapshots"));
  r.set_quarantine_dir(os::JoinPath(run_dir, "recovery/quarantine"));
  r.set_keep_snapshots(config.keep_snapshots());
  return r;
}

RecoveryRequest FleetCheck(const v1::Recovery& config, const std::string& run_dir) {
  RecoveryRequest r = BaseRequest(RecoveryRequest::OP_CHECK, config, run_dir);
  for (const v1::ProtectedFile& f : config.protect()) {
    if (!f.state()) CopyRule(f, f.path(), r.add_rules());
  }
  return r;
}

RecoveryRequest WorkTreeValidation(const v1::Recovery& config, const std::string& run_dir,
                                   const std::string& state_dir, const std::string& writer) {
  RecoveryRequest r = BaseRequest(RecoveryRequest::OP_VALIDATE, config, run_dir);
  for (const v1::ProtectedFile& f : config.protect()) {
    if (f.state()) CopyRule(f, os::JoinPath(state_dir, f.path()), r.add_rules());
  }
  r.set_writer(writer);
  return r;
}

RecoveryRequest LeftoversClean(const v1::Recovery& config, const std::string& run_dir,
                               const std::string& work_trees) {
  RecoveryRequest r;
  r.set_op(RecoveryRequest::OP_CLEAN);
  r.set_locks_dir(os::JoinPath(run_dir, "locks"));
  if (!work_trees.empty()) r.add_temp_dirs(work_trees);
  for (const v1::ProtectedFile& f : config.protect()) {
    if (!f.state()) r.add_temp_dirs(os::DirName(f.path()));
  }
  return r;
}

}  // namespace fleet::recovery
