#include "core/schedule/cron.h"

#include <cctype>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"

namespace fleet::schedule {
namespace {

struct Field {
  const char* name;
  int lo, hi;
  const char* const* names;  // nullptr, or names for lo..hi
};

constexpr const char* kMonthNames[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                       "jul", "aug", "sep", "oct", "nov", "dec"};
constexpr const char* kWeekdayNames[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
// Weekday 7 is accepted as Sunday, so the field's range is 0..7.
constexpr Field kFields[] = {{"minute", 0, 59, nullptr},
                             {"hour", 0, 23, nullptr},
                             {"day of month", 1, 31, nullptr},
                             {"month", 1, 12, kMonthNames},
                             {"day of week", 0, 7, kWeekdayNames}};

constexpr struct {
  const char* name;
  const char* expansion;
} kMacros[] = {{"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
               {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
               {"@hourly", "0 * * * *"}};

absl::Status ColumnError(size_t column, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat("column ", column, ": ", message));
}

// One value of a field: a number or (month, weekday) a name.
absl::StatusOr<int> Value(absl::string_view text, const Field& f, size_t column) {
  int v = 0;
  if (absl::SimpleAtoi(text, &v)) {
    if (v < f.lo || v > f.hi) {
      return ColumnError(column, absl::StrCat(text, " is out of range for the ", f.name, " (", f.lo,
                                              "-", f.hi, ")"));
    }
    return v;
  }
  if (f.names != nullptr) {
    const std::string lower = absl::AsciiStrToLower(text);
    const int count = f.hi - f.lo + 1 - (f.hi == 7 ? 1 : 0);
    for (int i = 0; i < count; ++i) {
      if (lower == f.names[i]) return f.lo + i;
    }
  }
  return ColumnError(column, absl::StrCat("'", text, "' is not a valid ", f.name,
                                          f.names != nullptr ? " (a number or a name)" : ""));
}

// Parses one field (`spec` starts at 1-based `column`) into bits[lo..hi].
// *restricted is false for a plain `*` (or `*/1`).
template <size_t N>
absl::Status ParseField(absl::string_view spec, size_t column, const Field& f, std::bitset<N>* bits,
                        bool* restricted) {
  *restricted = true;
  size_t start = 0;
  while (start <= spec.size()) {
    size_t comma = spec.find(',', start);
    if (comma == absl::string_view::npos) comma = spec.size();
    absl::string_view item = spec.substr(start, comma - start);
    const size_t col = column + start;
    if (item.empty()) return ColumnError(col, absl::StrCat("empty item in the ", f.name));
    int step = 1;
    absl::string_view range = item;
    if (size_t slash = item.find('/'); slash != absl::string_view::npos) {
      range = item.substr(0, slash);
      absl::string_view step_text = item.substr(slash + 1);
      if (!absl::SimpleAtoi(step_text, &step) || step <= 0 || step > f.hi) {
        return ColumnError(col + slash + 1,
                           absl::StrCat("'", step_text, "' is not a valid step (1-", f.hi, ")"));
      }
    }
    int lo = f.lo, hi = f.hi;
    if (range == "*") {
      if (step == 1 && spec == "*") *restricted = false;
    } else {
      size_t dash = range.find('-');
      absl::StatusOr<int> a = Value(range.substr(0, dash), f, col);
      if (!a.ok()) return a.status();
      lo = hi = *a;
      if (dash != absl::string_view::npos) {
        absl::StatusOr<int> b = Value(range.substr(dash + 1), f, col + dash + 1);
        if (!b.ok()) return b.status();
        hi = *b;
        if (hi < lo) {
          return ColumnError(col, absl::StrCat("the range ", range, " runs backwards"));
        }
      } else if (item.find('/') != absl::string_view::npos) {
        hi = f.hi;  // "N/STEP": from N to the end, as Vixie cron reads it.
      }
    }
    for (int v = lo; v <= hi; v += step) bits->set(static_cast<size_t>(v));
    start = comma + 1;
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Schedule> Schedule::Parse(absl::string_view text) {
  Schedule s;
  s.text_ = std::string(text);
  absl::string_view t = absl::StripAsciiWhitespace(text);
  const size_t lead = static_cast<size_t>(t.data() - text.data());
  if (t.empty()) return absl::InvalidArgumentError("the schedule is empty");
  if (t[0] == '@') {
    size_t space = t.find_first_of(" \t");
    const std::string word = absl::AsciiStrToLower(t.substr(0, space));
    absl::string_view rest =
        space == absl::string_view::npos ? "" : absl::StripAsciiWhitespace(t.substr(space));
    if (word == "@every") {
      absl::Duration d;
      if (rest.empty()) return ColumnError(lead + 7, "@every needs a period, like '@every 90s'");
      if (!absl::ParseDuration(rest, &d) || d < absl::Seconds(1)) {
        return ColumnError(
            static_cast<size_t>(rest.data() - text.data()) + 1,
            absl::StrCat("'", rest, "' is not a period of 1s or more (like 90s, ", "15m, 2h)"));
      }
      s.kind_ = Kind::kEvery;
      s.every_ = d;
      return s;
    }
    if (!rest.empty()) {
      return ColumnError(static_cast<size_t>(rest.data() - text.data()) + 1,
                         absl::StrCat("nothing may follow ", word));
    }
    if (word == "@reboot") {
      s.kind_ = Kind::kReboot;
      return s;
    }
    for (const auto& m : kMacros) {
      if (word == m.name) {
        absl::StatusOr<Schedule> expanded = Parse(m.expansion);
        if (expanded.ok()) expanded->text_ = s.text_;
        return expanded;
      }
    }
    return ColumnError(lead + 1, absl::StrCat("unknown '", word,
                                              "'; expected @hourly, @daily, @weekly, @monthly, "
                                              "@yearly, @reboot or @every PERIOD"));
  }
  // Five whitespace-separated fields, each with its column.
  std::vector<std::pair<absl::string_view, size_t>> fields;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    size_t j = i;
    while (j < text.size() && !std::isspace(static_cast<unsigned char>(text[j]))) ++j;
    if (j > i) fields.push_back({text.substr(i, j - i), i + 1});
    i = j;
  }
  if (fields.size() != 5) {
    return ColumnError(fields.size() > 5 ? fields[5].second : text.size() + 1,
                       absl::StrCat("expected 5 fields (minute hour day-of-month month "
                                    "day-of-week), found ",
                                    fields.size()));
  }
  bool restricted = false;
  absl::Status st =
      ParseField(fields[0].first, fields[0].second, kFields[0], &s.minutes_, &restricted);
  if (st.ok())
    st = ParseField(fields[1].first, fields[1].second, kFields[1], &s.hours_, &restricted);
  if (st.ok()) {
    st = ParseField(fields[2].first, fields[2].second, kFields[2], &s.days_, &s.days_restricted_);
  }
  if (st.ok())
    st = ParseField(fields[3].first, fields[3].second, kFields[3], &s.months_, &restricted);
  std::bitset<8> weekdays;
  if (st.ok()) {
    st = ParseField(fields[4].first, fields[4].second, kFields[4], &weekdays,
                    &s.weekdays_restricted_);
  }
  if (!st.ok()) return st;
  for (int d = 0; d < 7; ++d) s.weekdays_[d] = weekdays[d];
  if (weekdays[7]) s.weekdays_[0] = true;
  return s;
}

bool Schedule::DayMatches(const absl::CivilDay& day) const {
  const bool dom = days_[static_cast<size_t>(day.day())];
  const int weekday = (static_cast<int>(absl::GetWeekday(day)) + 1) % 7;  // absl: Monday = 0.
  const bool dow = weekdays_[static_cast<size_t>(weekday)];
  if (days_restricted_ && weekdays_restricted_) return dom || dow;
  return dom && dow;
}

std::optional<absl::Time> Schedule::NextAfter(absl::Time after, absl::TimeZone zone) const {
  if (kind_ != Kind::kCalendar) return std::nullopt;
  absl::CivilMinute c = absl::ToCivilMinute(after, zone) + 1;
  const absl::CivilYear last = absl::CivilYear(c) + 30;
  while (absl::CivilYear(c) <= last) {
    if (!months_[static_cast<size_t>(c.month())]) {
      c = absl::CivilMinute(absl::CivilMonth(c) + 1);
      continue;
    }
    if (!DayMatches(absl::CivilDay(c))) {
      c = absl::CivilMinute(absl::CivilDay(c) + 1);
      continue;
    }
    if (!hours_[static_cast<size_t>(c.hour())]) {
      c = absl::CivilMinute(absl::CivilHour(c) + 1);
      continue;
    }
    if (!minutes_[static_cast<size_t>(c.minute())]) {
      c += 1;
      continue;
    }
    const absl::TimeZone::TimeInfo info = zone.At(c);
    // A skipped slot runs at the instant the clocks jumped; a repeated one
    // at its first occurrence only.
    const absl::Time t = info.kind == absl::TimeZone::TimeInfo::SKIPPED ? info.trans : info.pre;
    if (t > after) return t;
    c += 1;
  }
  return std::nullopt;
}

absl::Duration Schedule::LongestGap(absl::Time from, absl::TimeZone zone) const {
  if (kind_ == Kind::kEvery) return every_;
  if (kind_ == Kind::kReboot) return absl::InfiniteDuration();
  // Slots over 4 years (a leap day's schedule fits); capped at 1000 slots
  // for frequent schedules, whose gaps repeat daily.
  absl::Duration longest = absl::ZeroDuration();
  std::optional<absl::Time> prev = NextAfter(from, zone);
  const absl::Time end = from + absl::Hours(24 * 366 * 4);
  for (int n = 0; prev.has_value() && *prev < end && n < 1000; ++n) {
    std::optional<absl::Time> next = NextAfter(*prev, zone);
    if (!next.has_value()) break;
    longest = std::max(longest, *next - *prev);
    prev = next;
  }
  return longest == absl::ZeroDuration() ? absl::InfiniteDuration() : longest;
}

}  // namespace fleet::schedule
