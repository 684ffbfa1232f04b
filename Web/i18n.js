// The page's words in Ukrainian (the default), English and Russian. One table; `t(key, values)`.
const words = {
  uk: {
    auction: "Аукціон", language: "Мова", startValue: "Початкова вартість", stepReduction: "Крок зниження",
    stepIncrease: "Крок підвищення", status: "Стан", yourTurn: "Ваш хід", amount: "Ваша ставка, грн",
    place: "Зробити ставку", replace: "Замінити ставку", cancelBid: "Відкликати ставку", stages: "Хід аукціону",
    stage: "Етап", bidder: "Учасник", price: "Ціна", time: "Час", standing: "Поточні результати", final: "Результати аукціону",
    initial: "Початкові ставки", pause: "Пауза перед раундом {round}", round: "Раунд {round}", preAnnouncement: "Підбиття підсумків",
    announcement: "Оголошення результатів", you: "Ви", changed: "змінено",
    connected: "З'єднано", connecting: "З'єднання…", reconnecting: "З'єднання втрачено, повторне підключення…",
    observer: "Ви спостерігач", bidderRole: "Ви — {label}", wrongLink: "Посилання для участі недійсне: ви бачите аукціон як спостерігач.",
    toStart: "До початку аукціону", toYourTurn: "До вашого ходу", toTurnEnd: "До кінця вашого ходу", toNextRound: "До наступного раунду",
    toTurnOfOther: "До кінця ходу учасника", toResults: "До результатів", finishedCount: "Аукціон завершено",
    limitDown: "Не більше {limit} грн (ваша ціна {own} мінус крок {step})", limitUp: "Не менше {limit} грн (ваша ціна {own} плюс крок {step})",
    pending: "Ваша ставка {amount} грн прийнята і буде опублікована в кінці ходу", sending: "Надсилаємо ставку…",
    cancelled: "Ставку відкликано", confirmBig: "Ставка змінює ціну на {percent}%. Ви впевнені?",
    tie: "Ця ціна така сама, як у {label}", meat: "Ваш коефіцієнт {coefficient}: приведена ціна {normalized} грн відповідає повній ціні {full} грн",
    normalized: "приведена", results: "Результати", name: "Назва", chainHead: "Відбиток протоколу (SHA-256)",
    auditDocument: "Протокол аукціону (YAML)", bidTime: "Час ставки", coefficient: "Коефіцієнт", normalizedPrice: "Приведена ціна",
    status_scheduled: "Заплановано", status_active: "Триває", status_finished: "Завершено", status_announced: "Результати оголошено",
    status_cancelled: "Скасовано", status_rescheduled: "Перенесено",
    err_too_high: "Занадто висока ціна: ставка має бути не більшою за вашу ціну мінус крок.",
    err_too_low: "Занадто низька ціна: ставка не відповідає кроку.",
    err_not_your_turn: "Зараз не ваш хід.", err_not_bidding_stage: "Зараз ставки не приймаються.",
    err_turn_over: "Ваш хід уже закінчився.", err_request_id_reused: "Цей запит уже надсилали з іншою ставкою; нічого не змінено. Спробуйте ще раз.", err_invalid_amount: "Це не сума: введіть число з не більше ніж двома знаками після коми.",
    err_observer: "Спостерігач не може робити ставки.", err_unavailable: "Сервер тимчасово недоступний; спробуйте ще раз.",
  },
  en: {
    auction: "Auction", language: "Language", startValue: "Starting value", stepReduction: "Step reduction",
    stepIncrease: "Step increase", status: "Status", yourTurn: "Your turn", amount: "Your bid, UAH",
    place: "Place bid", replace: "Replace bid", cancelBid: "Withdraw bid", stages: "Auction progress",
    stage: "Stage", bidder: "Bidder", price: "Price", time: "Time", standing: "Standing results", final: "Auction results",
    initial: "Initial bids", pause: "Pause before round {round}", round: "Round {round}", preAnnouncement: "Tallying results",
    announcement: "Results announced", you: "You", changed: "changed",
    connected: "Connected", connecting: "Connecting…", reconnecting: "Connection lost, reconnecting…",
    observer: "You are watching", bidderRole: "You are {label}", wrongLink: "This participation link is not valid: you see the auction as an observer.",
    toStart: "Until the auction starts", toYourTurn: "Until your turn", toTurnEnd: "Until your turn ends", toNextRound: "Until the next round",
    toTurnOfOther: "Until this bidder's turn ends", toResults: "Until the results", finishedCount: "The auction is over",
    limitDown: "At most {limit} UAH (your price {own} less the step {step})", limitUp: "At least {limit} UAH (your price {own} plus the step {step})",
    pending: "Your bid of {amount} UAH is accepted and will be published when the turn ends", sending: "Sending your bid…",
    cancelled: "Your bid is withdrawn", confirmBig: "This bid moves the price by {percent}%. Are you sure?",
    tie: "This price equals {label}'s", meat: "Your coefficient {coefficient}: the normalised price {normalized} UAH is a full price of {full} UAH",
    normalized: "normalised", results: "Results", name: "Name", chainHead: "Record fingerprint (SHA-256)",
    auditDocument: "The auction's record (YAML)", bidTime: "Bid time", coefficient: "Coefficient", normalizedPrice: "Normalised price",
    status_scheduled: "Scheduled", status_active: "Running", status_finished: "Finished", status_announced: "Results announced",
    status_cancelled: "Cancelled", status_rescheduled: "Rescheduled",
    err_too_high: "Too high: your bid must be at most your price less the step.",
    err_too_low: "Too low: your bid does not keep to the step.",
    err_not_your_turn: "It is not your turn.", err_not_bidding_stage: "Bids are not taken now.",
    err_turn_over: "Your turn has ended.", err_request_id_reused: "That request was already sent with another bid; nothing changed. Try again.", err_invalid_amount: "That is not an amount: enter a number with at most two decimals.",
    err_observer: "An observer cannot bid.", err_unavailable: "The server is briefly unavailable; try again.",
  },
  ru: {
    auction: "Аукцион", language: "Язык", startValue: "Начальная стоимость", stepReduction: "Шаг понижения",
    stepIncrease: "Шаг повышения", status: "Состояние", yourTurn: "Ваш ход", amount: "Ваша ставка, грн",
    place: "Сделать ставку", replace: "Заменить ставку", cancelBid: "Отозвать ставку", stages: "Ход аукциона",
    stage: "Этап", bidder: "Участник", price: "Цена", time: "Время", standing: "Текущие результаты", final: "Результаты аукциона",
    initial: "Начальные ставки", pause: "Пауза перед раундом {round}", round: "Раунд {round}", preAnnouncement: "Подведение итогов",
    announcement: "Объявление результатов", you: "Вы", changed: "изменено",
    connected: "Соединено", connecting: "Соединение…", reconnecting: "Соединение потеряно, переподключение…",
    observer: "Вы наблюдатель", bidderRole: "Вы — {label}", wrongLink: "Ссылка для участия недействительна: вы видите аукцион как наблюдатель.",
    toStart: "До начала аукциона", toYourTurn: "До вашего хода", toTurnEnd: "До конца вашего хода", toNextRound: "До следующего раунда",
    toTurnOfOther: "До конца хода участника", toResults: "До результатов", finishedCount: "Аукцион завершён",
    limitDown: "Не больше {limit} грн (ваша цена {own} минус шаг {step})", limitUp: "Не меньше {limit} грн (ваша цена {own} плюс шаг {step})",
    pending: "Ваша ставка {amount} грн принята и будет опубликована в конце хода", sending: "Отправляем ставку…",
    cancelled: "Ставка отозвана", confirmBig: "Ставка меняет цену на {percent}%. Вы уверены?",
    tie: "Эта цена совпадает с ценой {label}", meat: "Ваш коэффициент {coefficient}: приведённая цена {normalized} грн соответствует полной цене {full} грн",
    normalized: "приведённая", results: "Результаты", name: "Название", chainHead: "Отпечаток протокола (SHA-256)",
    auditDocument: "Протокол аукциона (YAML)", bidTime: "Время ставки", coefficient: "Коэффициент", normalizedPrice: "Приведённая цена",
    status_scheduled: "Запланирован", status_active: "Идёт", status_finished: "Завершён", status_announced: "Результаты объявлены",
    status_cancelled: "Отменён", status_rescheduled: "Перенесён",
    err_too_high: "Слишком высокая цена: ставка должна быть не больше вашей цены минус шаг.",
    err_too_low: "Слишком низкая цена: ставка не соответствует шагу.",
    err_not_your_turn: "Сейчас не ваш ход.", err_not_bidding_stage: "Сейчас ставки не принимаются.",
    err_turn_over: "Ваш ход уже закончился.", err_request_id_reused: "Этот запрос уже отправляли с другой ставкой; ничего не изменено. Попробуйте ещё раз.", err_invalid_amount: "Это не сумма: введите число не больше чем с двумя знаками после запятой.",
    err_observer: "Наблюдатель не может делать ставки.", err_unavailable: "Сервер временно недоступен; попробуйте ещё раз.",
  },
};

export const languages = Object.keys(words);
let current = "uk";

export function setLanguage(language) {
  current = words[language] ? language : "uk";
  document.documentElement.lang = current;
  for (const element of document.querySelectorAll("[data-i18n]")) element.textContent = t(element.dataset.i18n);
}

export function language() { return current; }

/** The word for `key` in the current language, with `{name}` filled from `values`. */
export function t(key, values = {}) {
  const text = words[current][key] ?? words.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ""));
}
