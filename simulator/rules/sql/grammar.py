"""The grammar of AWS IoT SQL (version 2016-03-23) for lark's LALR parser, and readable parse errors.

The grammar is the supported dialect: anything it does not describe (GROUP BY, JOIN, LIKE, ``||``, nested
SELECTs...) is refused when the rule is loaded, with the column and the word that is not understood.
"""

from __future__ import annotations

from functools import lru_cache

from lark import Lark, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

GRAMMAR = r"""
query: _SELECT select_clause _FROM STRING [where_clause]
where_clause: _WHERE expr
select_clause: _VALUE expr                     -> select_value
             | select_item ("," select_item)*  -> select_items
select_item: STAR                              -> star_item
           | expr [_AS alias]                  -> expr_item
alias: NAME ("." NAME)*

?expr: or_expr
?or_expr: and_expr | or_expr _OR and_expr      -> or_
?and_expr: not_expr | and_expr _AND not_expr   -> and_
?not_expr: _NOT not_expr                       -> not_
         | predicate
?predicate: sum
          | sum COMP_OP sum                    -> compare
          | sum _IS _NULL                      -> is_null
          | sum _IS _NOT _NULL                 -> is_not_null
          | sum _IN in_rhs                     -> in_
          | sum _NOT _IN in_rhs                -> not_in
?in_rhs: "(" expr ("," expr)+ ")"              -> in_tuple
       | postfix
?sum: product | sum ADD_OP product             -> binop
?product: unary | product MUL_OP unary         -> binop
?unary: "-" unary                              -> neg
      | postfix
?postfix: atom
        | postfix "." NAME                     -> member
        | postfix "[" expr "]"                 -> index
?atom: NUMBER                                  -> number
     | STRING                                  -> string
     | _TRUE                                   -> true
     | _FALSE                                  -> false
     | _NULL                                   -> null
     | NAME                                    -> field
     | NAME "(" [arg ("," arg)*] ")"           -> call
     | _CAST "(" expr _AS NAME ")"             -> cast
     | "(" expr ")"
     | _CASE [expr] when+ [_ELSE expr] _END    -> case
     | "[" [expr ("," expr)*] "]"              -> array
     | "{" [pair ("," pair)*] "}"              -> object
when: _WHEN expr _THEN expr
pair: STRING ":" expr
?arg: expr
    | STAR                                     -> star_arg

STAR: "*"
COMP_OP: "=" | "<>" | "<=" | ">=" | "<" | ">"
ADD_OP: "+" | "-"
MUL_OP: "*" | "/" | "%"
NUMBER: /\d+(\.\d+)?([eE][-+]?\d+)?/
STRING: /'(?:[^'\\]|\\.)*'/ | /"(?:[^"\\]|\\.)*"/
NAME: /[A-Za-z_][A-Za-z0-9_]*/
_SELECT: "SELECT"i
_FROM: "FROM"i
_WHERE: "WHERE"i
_VALUE: "VALUE"i
_AS: "AS"i
_AND: "AND"i
_OR: "OR"i
_NOT: "NOT"i
_IS: "IS"i
_NULL: "NULL"i
_IN: "IN"i
_TRUE: "TRUE"i
_FALSE: "FALSE"i
_CAST: "CAST"i
_CASE: "CASE"i
_WHEN: "WHEN"i
_THEN: "THEN"i
_ELSE: "ELSE"i
_END: "END"i

%import common.WS
%ignore WS
"""

_READABLE = {"$END": "end of statement", "COMMA": "','", "LPAR": "'('", "RPAR": "')'", "LSQB": "'['",
             "RSQB": "']'", "LBRACE": "'{'", "RBRACE": "'}'", "DOT": "'.'", "COLON": "':'", "MINUS": "'-'",
             "STAR": "'*'", "COMP_OP": "a comparison", "ADD_OP": "'+'/'-'", "MUL_OP": "'*'/'/'/'%'",
             "NUMBER": "a number", "STRING": "a string", "NAME": "a name"}


class SqlError(ValueError):
    """The SQL cannot be run: the message names the construct (and its column when known)."""


@lru_cache(maxsize=1)
def parser() -> Lark:
    return Lark(GRAMMAR, parser="lalr", start=["query", "expr"], maybe_placeholders=True,
                propagate_positions=True)


def _expected(names: set[str]) -> str:
    words = sorted({_READABLE.get(n, n.lstrip("_")) for n in names})
    shown = ", ".join(words[:8])
    return shown + (", ..." if len(words) > 8 else "")


def parse(text: str, start: str = "query") -> Tree:
    """Parse a statement (``start="query"``) or a lone expression (``start="expr"``, for ``${...}``)."""
    try:
        return parser().parse(text, start=start)
    except UnexpectedEOF as exc:
        raise SqlError(f"the statement ends too early (expected {_expected(set(exc.expected))})") from None
    except UnexpectedToken as exc:
        if exc.token.type == "$END":
            raise SqlError(f"the statement ends too early (expected {_expected(exc.expected)})") from None
        history = getattr(exc, "token_history", None) or []
        after = f" after '{history[-1]}'" if history else ""
        raise SqlError(f"unsupported SQL '{exc.token}'{after} at column {exc.column} "
                       f"(expected {_expected(exc.expected)})") from None
    except UnexpectedCharacters as exc:
        raise SqlError(f"unsupported SQL '{exc.char}' at column {exc.column} "
                       f"(expected {_expected(exc.allowed or set())})") from None
    except UnexpectedInput as exc:  # any other parse failure lark reports
        raise SqlError(f"cannot parse the SQL: {exc}") from None
