"""Deterministic synthetic Chinese PII samples in the users' format.

``python -m piifactory.synth --n 2000 --seed 0 --out data/pii_synth.jsonl``

Values come from Faker's ``zh_CN`` provider; identifiers carry valid check digits (resident ID
GB 11643, USCC GB 32100, UnionPay Luhn). About a third of the samples are negatives, many of them
hard: order numbers, amounts, dates, and IDs or cards whose check digit is wrong.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import random
import re
import sys
from pathlib import Path
from typing import Callable, Iterator

from faker import Faker

from piifactory.checksums import USCC_ALPHABET, id_card_check_char, luhn_check_digit, uscc_check_char
from piifactory.io import atomic_write_lines
from piifactory.schema import PII_TYPES, Entity, Sample

_SLOT = re.compile(r"\{([A-Z_]+)(?::(\d))?\}")

POSITIVE_TEMPLATES = (
    "客户{PERSON}，手机号{PHONE}，身份证号{ID_CARD}，请于本周内到柜台办理。",
    "收件人：{PERSON}，电话：{PHONE}，地址：{ADDRESS}",
    "{ORG}（统一社会信用代码：{USCC}）的法定代表人为{PERSON}。",
    "请将退款打到{PERSON}的银行卡{BANK_CARD}上，订单号{ORDER}，金额{AMOUNT}元。",
    "登录告警：账号{EMAIL}于{DATE}从{IP}登录。",
    "车主{PERSON}，车牌号{LICENSE_PLATE}，联系电话{PHONE}。",
    "旅客{PERSON}，护照号码{PASSPORT}，邮箱{EMAIL}，已完成值机。",
    "{PERSON:1}在{ORG}工作，{PERSON:1}的办公电话是{LANDLINE}。",
    "您好，我是{PERSON}，住在{ADDRESS}，有事请打{PHONE}或发邮件到{EMAIL}。",
    "经核实，{PERSON}（身份证{ID_CARD}）名下银行卡{BANK_CARD}已冻结。",
    "服务器{IP}与{IP}之间的同步失败，请联系{PERSON}处理。",
    "{DATE}，{ORG}向{PERSON}支付了{AMOUNT}元，收款卡号{BANK_CARD}。",
    "投诉人{PERSON}，电话{PHONE}，反映车牌{LICENSE_PLATE}的车辆违停。",
    "合同甲方：{ORG}，信用代码{USCC}；乙方：{PERSON}，证件号{ID_CARD}。",
    "快递员联系不上{PERSON}，号码{PHONE}已停机，包裹退回{ADDRESS}。",
    "请{PERSON}携带护照（{PASSPORT}）于{DATE}前往领馆面谈。",
    "报警人{PERSON}称其手机{PHONE:1}被盗，{PHONE:1}目前无法接通。",
    "新员工{PERSON}入职{ORG}，工资卡{BANK_CARD}，紧急联系人{PERSON}，电话{PHONE}。",
    "用户反馈：邮箱{EMAIL}收不到验证码，注册手机{PHONE}。",
    "访客登记：{PERSON}，来自{ORG}，座机{LANDLINE}，访问时间{DATE}。",
    "{ADDRESS}的住户{PERSON}申请维修，联系方式{PHONE}。",
    "审计发现{ORG}的对公账户与{PERSON}的个人卡{BANK_CARD}存在往来。",
    "防火墙拦截了来自{IP}的请求，目标主机由{PERSON}（{EMAIL}）负责。",
    "{PERSON}，男，身份证号码{ID_CARD}，户籍地址{ADDRESS}。",
    "停车场记录：{LICENSE_PLATE}于{DATE}入场，车主电话{PHONE}。",
)

NEGATIVE_TEMPLATES = (
    "订单号{ORDER}已发货，金额{AMOUNT}元，预计{DATE}送达。",
    "会议定于{DATE}召开，预算{AMOUNT}元，请各部门提前准备材料。",
    "编号{BAD_ID}的档案校验失败，请重新录入。",
    "卡号{BAD_CARD}校验不通过，交易已拒绝。",
    "本季度营收{AMOUNT}万元，同比增长{PERCENT}。",
    "工单{ORDER}于{DATE}关闭，处理时长{NUMBER}小时。",
    "系统将在{DATE}升级，届时服务暂停{NUMBER}分钟。",
    "流水号{ORDER}对应的退款{AMOUNT}元已原路返回。",
    "样本{BAD_ID}不是有效证件号，已标记为异常。",
    "库存编码{NUMBER}的商品剩余{NUMBER}件，单价{AMOUNT}元。",
    "今天天气晴，最高气温{NUMBER}度，适合出游。",
    "第{NUMBER}期培训共有{NUMBER}人参加，满意度{PERCENT}。",
)

# Fixed date ranges: Faker's relative ones ("-3y", minimum_age) move with today's date, and the
# same seed must give the same samples on any day.
_BIRTH_FROM, _BIRTH_TO = _dt.date(1946, 1, 1), _dt.date(2006, 12, 31)
_EVENTS_FROM, _EVENTS_TO = _dt.date(2023, 1, 1), _dt.date(2027, 12, 31)
_LANDLINE_AREAS = ("010", "021", "022", "023", "020", "0755", "0571", "025", "027", "028", "029", "0512")


class SyntheticPII:
    """Seeded generator: the same seed gives the same samples, byte for byte."""

    def __init__(self, seed: int = 0, negative_ratio: float = 1 / 3) -> None:
        self.rng = random.Random(seed)
        self.fake = Faker("zh_CN")
        self.fake.seed_instance(seed)
        self.negative_ratio = negative_ratio
        self._fillers: dict[str, Callable[[], str]] = {
            "PERSON": self.fake.name,
            "PHONE": self.mobile,
            "LANDLINE": self.landline,
            "ID_CARD": self.id_card,
            "BANK_CARD": self.bank_card,
            "EMAIL": self.fake.email,
            "ADDRESS": self.address,
            "ORG": self.fake.company,
            "LICENSE_PLATE": self.plate,
            "PASSPORT": self.passport,
            "USCC": self.uscc,
            "IP": self.ip,
            "ORDER": self.order_number,
            "AMOUNT": self.amount,
            "DATE": self.date,
            "BAD_ID": self.bad_id_card,
            "BAD_CARD": self.bad_bank_card,
            "NUMBER": lambda: str(self.rng.randint(1, 999)),
            "PERCENT": lambda: f"{self.rng.randint(1, 99)}%",
        }

    # --- values -------------------------------------------------------------------------------
    def _digits(self, n: int) -> str:
        return "".join(self.rng.choice("0123456789") for _ in range(n))

    def mobile(self) -> str:
        number = self.rng.choice("3456789") + self._digits(9)
        number = "1" + number
        style = self.rng.random()
        if style < 0.15:
            return "+86 " + number
        if style < 0.25:
            return f"{number[:3]}-{number[3:7]}-{number[7:]}"
        return number

    def landline(self) -> str:
        area = self.rng.choice(_LANDLINE_AREAS)  # big cities, whose numbers all have 8 digits
        return f"{area}-{self.rng.randint(2, 8)}{self._digits(7)}"

    def _id_first17(self) -> str:
        area = self.fake.ssn()[:6]
        birth = self.fake.date_between(start_date=_BIRTH_FROM, end_date=_BIRTH_TO).strftime("%Y%m%d")
        return area + birth + self._digits(3)

    def id_card(self) -> str:
        first = self._id_first17()
        return first + id_card_check_char(first)

    def bad_id_card(self) -> str:
        first = self._id_first17()
        good = id_card_check_char(first)
        return first + self.rng.choice([c for c in "0123456789X" if c != good])

    def _card_payload(self) -> str:
        return "62" + self._digits(self.rng.choice((13, 14, 15, 16)))

    def bank_card(self) -> str:
        payload = self._card_payload()
        return payload + luhn_check_digit(payload)

    def bad_bank_card(self) -> str:
        payload = self._card_payload()
        good = luhn_check_digit(payload)
        return payload + self.rng.choice([c for c in "0123456789" if c != good])

    def address(self) -> str:
        return self.fake.address().split(" ")[0]

    def plate(self) -> str:
        return self.fake.license_plate().replace("-", "")

    def passport(self) -> str:
        return self.rng.choice("EG") + self._digits(8)

    def uscc(self) -> str:
        body = "91" + self.fake.ssn()[:6] + "".join(self.rng.choice(USCC_ALPHABET[:10] + "ABCDEFGH") for _ in range(9))
        return body + uscc_check_char(body)

    def ip(self) -> str:
        return self.fake.ipv6() if self.rng.random() < 0.2 else self.fake.ipv4()

    def order_number(self) -> str:
        return self.rng.choice(("DD", "SO", "")) + "20" + self._digits(14)

    def amount(self) -> str:
        return f"{self.rng.randint(1, 99999)}.{self._digits(2)}"

    def date(self) -> str:
        return self.fake.date_between(start_date=_EVENTS_FROM, end_date=_EVENTS_TO).strftime("%Y年%m月%d日")

    # --- samples ------------------------------------------------------------------------------
    def render(self, template: str) -> Sample:
        """Fill a template; every PII slot becomes an entity with exact offsets."""
        parts: list[str] = []
        entities: list[Entity] = []
        pinned: dict[tuple[str, str], str] = {}
        cursor = length = 0
        for match in _SLOT.finditer(template):
            literal = template[cursor : match.start()]
            parts.append(literal)
            length += len(literal)
            slot, pin = match.group(1), match.group(2)
            if pin is not None and (slot, pin) in pinned:
                value = pinned[(slot, pin)]
            else:
                value = self._fillers[slot]()
                if pin is not None:
                    pinned[(slot, pin)] = value
            entity_type = "PHONE" if slot == "LANDLINE" else slot
            if entity_type in PII_TYPES:  # the other slots are hard-negative filler
                entities.append(Entity(entity_type, value, length, length + len(value)))
            parts.append(value)
            length += len(value)
            cursor = match.end()
        parts.append(template[cursor:])
        return Sample("".join(parts), tuple(entities))

    def sample(self) -> Sample:
        pool = NEGATIVE_TEMPLATES if self.rng.random() < self.negative_ratio else POSITIVE_TEMPLATES
        return self.render(self.rng.choice(pool))

    def samples(self, n: int) -> Iterator[Sample]:
        for _ in range(n):
            yield self.sample()


def generate(n: int, seed: int = 0) -> list[Sample]:
    """``n`` samples from a fresh generator seeded with ``seed``."""
    return list(SyntheticPII(seed).samples(n))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m piifactory.synth", description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="number of samples")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True, help="JSONL file in the users' format")
    args = parser.parse_args(argv)
    lines = (json.dumps(s.to_user_json(), ensure_ascii=False) for s in SyntheticPII(args.seed).samples(args.n))
    atomic_write_lines(args.out, lines)
    print(f"wrote {args.n} samples to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
