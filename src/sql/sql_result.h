// SqlResult: the rows of one statement, fully read, plus the number of rows
// an INSERT/UPDATE/DELETE changed. Cells keep integers as integers and text
// and byte strings as bytes; int64() also parses a text cell (PostgreSQL
// numeric aggregates arrive as text).
//
// Thread safety: a plain value.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace blobsync {

class SqlResult {
 public:
  using Cell = std::variant<std::monostate, std::int64_t, std::string>;  // NULL, integer, text or bytes

  SqlResult() = default;
  explicit SqlResult(int columns) : columns_(columns) {}

  std::size_t rows() const { return columns_ ? cells_.size() / static_cast<std::size_t>(columns_) : 0; }
  bool empty() const { return rows() == 0; }
  int columns() const { return columns_; }
  // Rows changed by an INSERT, UPDATE or DELETE (0 for a SELECT).
  std::int64_t affected() const { return affected_; }

  // REQUIRES (all getters): row < rows(), col < columns().
  bool is_null(std::size_t row, int col) const { return std::holds_alternative<std::monostate>(cell(row, col)); }
  // 0 for NULL or text that is not an integer.
  std::int64_t int64(std::size_t row, int col) const;
  // "" for NULL; an integer cell is formatted.
  std::string text(std::size_t row, int col) const;
  // Empty for NULL or an integer cell; valid while the result lives.
  std::span<const std::uint8_t> bytes(std::size_t row, int col) const;

  // Building (the drivers).
  void push(Cell cell) { cells_.push_back(std::move(cell)); }
  void set_affected(std::int64_t n) { affected_ = n; }

 private:
  const Cell& cell(std::size_t row, int col) const {
    return cells_[row * static_cast<std::size_t>(columns_) + static_cast<std::size_t>(col)];
  }
  int columns_ = 0;
  std::int64_t affected_ = 0;
  std::vector<Cell> cells_;
};

}  // namespace blobsync
