#include "core/capture/record.h"

#include <stdio.h>

#include <cstdint>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/time/civil_time.h"

namespace fleet::capture {
namespace {

// "2026-12-05T15:51:59.123456Z": fixed width, so records line up and parse
// without a search.
constexpr size_t kTimeWidth = 27;

void AppendTime(absl::Time t, std::string* out) {
  const absl::CivilSecond s = absl::ToCivilSecond(t, absl::UTCTimeZone());
  const int64_t micros =
      absl::ToInt64Microseconds(t - absl::FromCivil(s, absl::UTCTimeZone()));
  char buffer[40];
  const int n = snprintf(buffer, sizeof(buffer), "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ",
                         static_cast<int>(s.year()), s.month(), s.day(), s.hour(), s.minute(),
                         s.second(), static_cast<int>(micros));
  out->append(buffer, static_cast<size_t>(n));
}

// Digits at text[at, at+width) as a number; -1 if any is not a digit.
int64_t Digits(absl::string_view text, size_t at, size_t width) {
  int64_t value = 0;
  for (size_t i = at; i < at + width; ++i) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(text[i]))) return -1;
    value = value * 10 + (text[i] - '0');
  }
  return value;
}

bool ParseTime(absl::string_view text, absl::Time* out) {
  if (text.size() != kTimeWidth || text[4] != '-' || text[7] != '-' || text[10] != 'T' ||
      text[13] != ':' || text[16] != ':' || text[19] != '.' || text[26] != 'Z') {
    return false;
  }
  const int64_t year = Digits(text, 0, 4), month = Digits(text, 5, 2), day = Digits(text, 8, 2);
  const int64_t hour = Digits(text, 11, 2), minute = Digits(text, 14, 2);
  const int64_t second = Digits(text, 17, 2), micros = Digits(text, 20, 6);
  if (year < 0 || month < 1 || month > 12 || day < 1 || day > 31 || hour < 0 || hour > 23 ||
      minute < 0 || minute > 59 || second < 0 || second > 60 || micros < 0) {
    return false;
  }
  const absl::CivilSecond civil(year, month, day, hour, minute, second);
  if (civil.day() != day) return false;  // 31 February normalised: not a time we wrote.
  *out = absl::FromCivil(civil, absl::UTCTimeZone()) + absl::Microseconds(micros);
  return true;
}

void AppendHeader(absl::string_view time, Stream stream, bool partial, std::string* out) {
  out->append(time.data(), time.size());
  out->push_back(' ');
  const absl::string_view name = StreamName(stream);
  out->append(name.data(), name.size());
  out->append(partial ? " P " : " F ");
}

}  // namespace

absl::string_view StreamName(Stream stream) {
  switch (stream) {
    case Stream::kStdout:
      return "stdout";
    case Stream::kStderr:
      return "stderr";
    case Stream::kFleet:
      return "fleet";
  }
  return "stdout";
}

void AppendRecords(Stream stream, absl::Time arrived, absl::string_view chunk, std::string* out) {
  std::string time;
  AppendTime(arrived, &time);
  while (!chunk.empty()) {
    const size_t newline = chunk.find('\n');
    const bool partial = newline == absl::string_view::npos;
    const absl::string_view line = partial ? chunk : chunk.substr(0, newline);
    AppendHeader(time, stream, partial, out);
    out->append(line.data(), line.size());
    out->push_back('\n');
    chunk.remove_prefix(partial ? chunk.size() : newline + 1);
  }
}

void AppendMarker(absl::Time at, absl::string_view text, std::string* out) {
  std::string time;
  AppendTime(at, &time);
  AppendHeader(time, Stream::kFleet, /*partial=*/false, out);
  for (char c : text) out->push_back(c == '\n' ? ' ' : c);
  out->push_back('\n');
}

Record ParseRecord(absl::string_view line) {
  Record r;
  r.text = line;
  absl::Time time;
  if (line.size() < kTimeWidth + 1 || line[kTimeWidth] != ' ' ||
      !ParseTime(line.substr(0, kTimeWidth), &time)) {
    return r;
  }
  absl::string_view rest = line.substr(kTimeWidth + 1);
  Stream stream;
  if (absl::StartsWith(rest, "stdout ")) {
    stream = Stream::kStdout;
  } else if (absl::StartsWith(rest, "stderr ")) {
    stream = Stream::kStderr;
  } else if (absl::StartsWith(rest, "fleet ")) {
    stream = Stream::kFleet;
  } else {
    return r;
  }
  rest.remove_prefix(StreamName(stream).size() + 1);
  // "F text" / "P text"; "F" alone is an empty line.
  if (rest.empty() || (rest[0] != 'F' && rest[0] != 'P') || (rest.size() > 1 && rest[1] != ' ')) {
    return r;
  }
  r.time = time;
  r.stream = stream;
  r.partial = rest[0] == 'P';
  r.text = rest.size() > 1 ? rest.substr(2) : absl::string_view();
  return r;
}

}  // namespace fleet::capture
