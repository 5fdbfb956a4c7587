#include "core/bus/json_codec.h"

#include <memory>

#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/type_resolver.h"
#include "google/protobuf/util/type_resolver_util.h"

namespace fleet::bus {
namespace {

constexpr char kUrlPrefix[] = "type.googleapis.com";

google::protobuf::util::TypeResolver* Resolver() {
  // Thread-safe to use from several threads (const lookups into the
  // generated pool); built once.
  static google::protobuf::util::TypeResolver* resolver =
      google::protobuf::util::NewTypeResolverForDescriptorPool(
          kUrlPrefix, google::protobuf::DescriptorPool::generated_pool());
  return resolver;
}

std::string TypeUrl(const google::protobuf::Message& m) {
  return absl::StrCat(kUrlPrefix, "/", m.GetDescriptor()->full_name());
}

}  // namespace

std::string ToJsonLine(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  std::string json;
  (void)google::protobuf::util::BinaryToJsonString(Resolver(), TypeUrl(message),
                                                   message.SerializeAsString(), &json, options);
  return json + "\n";
}

absl::Status FromJson(const std::string& json, google::protobuf::Message* message) {
  std::string binary;
  auto status =
      google::protobuf::util::JsonToBinaryString(Resolver(), TypeUrl(*message), json, &binary);
  if (!status.ok()) return absl::InvalidArgumentError(status.ToString());
  if (!message->ParseFromString(binary)) {
    return absl::InvalidArgumentError("the JSON does not make a valid message");
  }
  return absl::OkStatus();
}

}  // namespace fleet::bus
